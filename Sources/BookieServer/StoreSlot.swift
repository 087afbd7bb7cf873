import BookieStorage
import Synchronization

/// The store once it is open, for servers bound before it.
final class StoreSlot: Sendable {
    private let value = Mutex<BookieStore?>(nil)

    var store: BookieStore? { self.value.withLock { $0 } }

    func set(_ store: BookieStore) {
        self.value.withLock { $0 = store }
    }
}

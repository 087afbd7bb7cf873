import Synchronization

/// The broker's context once it exists; connections accepted earlier are refused.
final class ContextBox: Sendable {
    private let stored = Mutex<BrokerContext?>(nil)

    var context: BrokerContext? {
        get { self.stored.withLock { $0 } }
        set { self.stored.withLock { $0 = newValue } }
    }
}

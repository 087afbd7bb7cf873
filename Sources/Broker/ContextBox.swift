import Synchronization

/// The broker's context once it exists; connections accepted earlier are refused.
final class ContextBox: Sendable {
    private let stored = Mutex<BrokerContext?>(nil)

    var context: BrokerContext? {
        get { self.stored.withLock { $0 } }
        set { self.stored.withLock { $0 = newValue } }
    }
}

/// A weak reference to the broker's context, for parts it owns that call back into it.
final class WeakContext: Sendable {
    private struct Reference {
        weak var context: BrokerContext?
    }

    private let reference = Mutex(Reference())

    var context: BrokerContext? {
        get { self.reference.withLock { $0.context } }
        set { self.reference.withLock { $0.context = newValue } }
    }
}

import Synchronization

/// A flag set once, when a service was asked to stop, so that it can tell an ordered stop
/// from its socket or loop ending by itself.
final class StopFlag: Sendable {
    private let value = Atomic(false)

    func set() {
        self.value.store(true, ordering: .releasing)
    }

    var isSet: Bool { self.value.load(ordering: .acquiring) }
}

import PulsarWire
import Synchronization

/// The topics (partitions) a ``Consumer`` consumes, each a ``TopicConsumer``. Each has an
/// index for its life, under which its deliveries wait in the shared receiver queue;
/// topics may be added and removed while the consumer runs (a pattern consumer's
/// discovery), and an index is never reused.
final class ConsumerMembers: Sendable {
    private struct State {
        var slots: [TopicConsumer?] = []
        var byTopic: [String: Int] = [:]
    }

    private let state = Mutex(State())

    /// Adds the consumer `make` builds with the next index.
    @discardableResult
    func add(_ make: (Int) -> TopicConsumer) -> TopicConsumer {
        self.state.withLock { state in
            let member = make(state.slots.count)
            state.slots.append(member)
            state.byTopic[member.topic.description] = member.index
            return member
        }
    }

    /// Removes the consumer of `topic`, returning it (the caller closes it).
    func remove(topic: String) -> TopicConsumer? {
        self.state.withLock { state in
            guard let index = state.byTopic.removeValue(forKey: topic) else { return nil }
            defer { state.slots[index] = nil }
            return state.slots[index]
        }
    }

    func member(at index: Int) -> TopicConsumer? {
        self.state.withLock { $0.slots.indices.contains(index) ? $0.slots[index] : nil }
    }

    func member(forTopic topic: String) -> TopicConsumer? {
        self.state.withLock { state in state.byTopic[topic].flatMap { state.slots[$0] } }
    }

    /// Every current member, in the order they were added.
    var all: [TopicConsumer] { self.state.withLock { $0.slots.compactMap { $0 } } }

    var topics: [String] { self.all.map(\.topic.description) }
}

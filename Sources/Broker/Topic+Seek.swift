import ManagedLedger
import PulsarProto
import PulsarWire

extension Topic {
    /// Moves a subscription where a SEEK asks, then closes its consumers (``reset(_:to:)``):
    /// to the first message published at or after a time, to the first entry (the earliest
    /// id), or to a message. A message inside a batch is honoured by its batch index: the
    /// batch is delivered next with the messages before it masked out, as if acknowledged.
    func seek(_ consumer: Consumer, _ request: Pulsar_Proto_CommandSeek) async throws {
        let subscription = consumer.subscription
        try await self.move(subscription, request)
        try? await subscription.cursor.persist()
    }

    private func move(_ subscription: Subscription, _ request: Pulsar_Proto_CommandSeek) async throws {
        if request.hasMessagePublishTime {
            return self.reset(subscription, to: try await self.position(publishedAtOrAfter: request.messagePublishTime))
        }
        let id = request.messageID
        let target: Position
        switch id.seekTarget {
        case .earliest: return self.reset(subscription, to: await self.ledger.firstPosition)
        case .latest:
            let last = await self.ledger.lastConfirmed
            return self.reset(subscription, to: await self.ledger.next(after: last))
        case .position(let position): target = position
        case nil: throw BrokerError(.notAllowed, "message id \(id.ledgerID):\(id.entryID) is not a position")
        }
        if id.hasBatchIndex, id.batchIndex > 0, let (position, entry) = try await self.ledger.read(from: target, count: 1).first,
            position == target
        {
            let messages = EntryFacts(entry).messages
            // An index at or past the batch's end leaves nothing of it to deliver.
            guard Int(id.batchIndex) < messages else { return self.reset(subscription, to: await self.ledger.next(after: target)) }
            return self.reset(subscription, to: target, leaving: Self.ackSet(from: Int(id.batchIndex), of: messages))
        }
        self.reset(subscription, to: target)
    }

    /// ``reset(_:to:)`` to a batch entry, with the messages of the batch not set in
    /// `ackSet` acknowledged: dispatch masks them out.
    private func reset(_ subscription: Subscription, to target: Position, leaving ackSet: [Int64]) {
        self.reset(subscription, to: target)
        subscription.cursor.assumeIsolated { _ = $0.ack(target, batchIndexes: ackSet) }
    }

    /// Pulsar's ack_set for a batch of `size` messages of which those from `index` on are
    /// still to be delivered (set bits).
    static func ackSet(from index: Int, of size: Int) -> [Int64] {
        var words = [Int64](repeating: 0, count: (size + 63) / 64)
        for message in index..<max(index, size) { words[message / 64] |= Int64(1) << Int64(message % 64) }
        return words
    }

    /// The first position whose message was published at or after `time` (milliseconds),
    /// or the position after the last entry.
    func position(publishedAtOrAfter time: UInt64) async throws -> Position {
        var position = await self.ledger.firstPosition
        while true {
            let entries = try await self.ledger.read(from: position, count: 100)
            guard let last = entries.last else { return position }
            for (entryPosition, entry) in entries {
                if let payload = try? PulsarPayload(parsing: entry), payload.metadata.publishTime >= time { return entryPosition }
            }
            position = await self.ledger.next(after: last.0)
        }
    }
}

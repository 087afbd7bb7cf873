import Foundation
import ManagedLedger
import PulsarProto
import PulsarWire

extension Topic {
    /// The durable subscriptions of the topic: every stored cursor, attached or not.
    func subscriptionNames() async -> [String] {
        let cursors = await self.subscriptionCursors().map(\.name)
        return Set(cursors).union(self.subscriptions.filter { $0.value.durable }.keys).sorted()
    }

    /// The cursor of subscription `name`, or nil when there is none.
    func cursor(named name: String) async -> ManagedCursor? {
        if let subscription = self.subscriptions[name] { return subscription.cursor }
        return await self.subscriptionCursors().first { $0.name == name }
    }

    /// Creates a durable subscription with no consumer at `start` (nil: after the last
    /// entry). Throws `conflict` when it exists.
    func createSubscription(_ name: String, at start: Position?) async throws {
        try self.checkOpen()
        guard name != Deduplication.cursorName else { throw BrokerError(.notAllowed, "\(name) is the broker's own cursor, not a subscription") }
        guard await self.cursor(named: name) == nil else { throw BrokerError(.conflict, "subscription \(name) already exists on \(self.name)") }
        let cursor = try await self.ledger.openCursor(name, initialPosition: start == nil ? .latest : .earliest)
        if let start { await cursor.seek(to: start) }
        try await cursor.persist()
    }

    /// Deletes a subscription. With consumers attached it refuses unless `force`, which
    /// closes them first.
    func deleteSubscription(_ name: String, force: Bool) async throws {
        guard await self.cursor(named: name) != nil else { throw BrokerError(.notFound, "subscription \(name) does not exist on \(self.name)") }
        if let subscription = self.subscriptions[name] {
            guard subscription.isEmpty || force else {
                throw BrokerError(.notAllowed, "subscription \(name) has \(subscription.attached.count) consumers connected")
            }
            for consumer in subscription.removeAll() { consumer.sink.consumerClosed(consumer) }
            self.subscriptions[name] = nil
        }
        try await self.ledger.deleteCursor(name)
    }

    /// Acknowledges the next `count` unacknowledged entries of a subscription (all of its
    /// backlog when nil); returns how many were acknowledged.
    @discardableResult
    func skip(_ name: String, count: Int64?) async throws -> Int64 {
        guard let cursor = await self.cursor(named: name) else { throw BrokerError(.notFound, "subscription \(name) does not exist on \(self.name)") }
        let skipped = await cursor.skip(count ?? .max)
        try await cursor.persist()
        return skipped
    }

    /// Resets a subscription to `position` (as a seek: its consumers reconnect and read
    /// from there).
    func resetCursor(_ name: String, to position: Position) async throws {
        if let subscription = self.subscriptions[name] {
            self.reset(subscription, to: position)
            try await subscription.cursor.persist()
            return
        }
        guard let cursor = await self.cursor(named: name) else { throw BrokerError(.notFound, "subscription \(name) does not exist on \(self.name)") }
        await cursor.seek(to: position)
        try await cursor.persist()
    }

    /// Acknowledges, on a subscription, every entry published before `cutoff` (milliseconds
    /// since 1970); returns how many entries that acknowledged.
    @discardableResult
    func expire(_ name: String, publishedBefore cutoff: UInt64) async throws -> Int64 {
        guard let cursor = await self.cursor(named: name) else { throw BrokerError(.notFound, "subscription \(name) does not exist on \(self.name)") }
        let first = try await self.firstPosition(publishedAtOrAfter: cutoff)
        let before = await cursor.backlog
        var through: Position? = await self.ledger.lastConfirmed
        if let first { through = await self.ledger.previous(before: first) }
        if let through { await cursor.ackCumulative(through) }
        try await cursor.persist()
        let expired = await before - cursor.backlog
        self.subscriptions[name]?.expiredMessages += Int(expired)
        return expired
    }

    /// The first entry published at or after `time` (milliseconds since 1970), found by
    /// bisection over the log's entries; nil when every entry is older.
    func firstPosition(publishedAtOrAfter time: UInt64) async throws -> Position? {
        let ledgers = await self.ledger.ledgers.filter { $0.entries > 0 }
        let total = ledgers.reduce(0) { $0 + $1.entries }
        func position(_ index: Int64) -> Position {
            var index = index
            for info in ledgers {
                if index < info.entries { return Position(ledgerID: info.id, entryID: index) }
                index -= info.entries
            }
            preconditionFailure("an index within the log")
        }
        var (low, high) = (Int64(0), total)
        while low < high {
            let middle = (low + high) / 2
            let at = position(middle)
            guard let (_, entry) = try await self.ledger.read(from: at, count: 1).first else { break }
            let published = (try? PulsarPayload(parsing: entry))?.metadata.publishTime ?? 0
            if published < time { low = middle + 1 } else { high = middle }
        }
        return low < total ? position(low) : nil
    }

    /// The position `offset` entries (from 1) from the first entry, or back from the
    /// last; nil when the log is shorter.
    func position(fromEarliest earliest: Bool, offset: Int64) -> Position? {
        self.ledger.assumeIsolated { ledger in
            guard offset >= 1, offset <= ledger.numberOfEntries else { return nil }
            var position = earliest ? ledger.firstPosition : ledger.lastConfirmed
            for _ in 1..<offset {
                if earliest {
                    position = ledger.next(after: position)
                } else {
                    guard let previous = ledger.previous(before: position) else { return nil }
                    position = previous
                }
            }
            return position
        }
    }

    /// The stored entry at `position`, or nil when there is none.
    func entry(at position: Position) async throws -> StoredMessage? {
        guard let (found, entry) = try await self.ledger.read(from: position, count: 1).first, found == position else { return nil }
        return try StoredMessage(position: found, entry: entry)
    }

    /// The `n`-th (from 1) entry after a subscription's mark-delete position that it has
    /// not acknowledged, or nil when its backlog is shorter.
    func peek(_ name: String, _ n: Int) async throws -> StoredMessage? {
        guard let cursor = await self.cursor(named: name) else { throw BrokerError(.notFound, "subscription \(name) does not exist on \(self.name)") }
        var position = await cursor.markDeletePosition
        let last = await self.ledger.lastConfirmed
        var left = n
        while left > 0 {
            position = await self.ledger.next(after: position)
            guard position <= last else { return nil }
            if await !cursor.isAcked(position) { left -= 1 }
        }
        return try await self.entry(at: position)
    }
}

import Logging
import ManagedLedger
import PulsarProto
import PulsarWire
import Synchronization

extension Position {
    /// What a duplicate message is receipted with, as Pulsar does: `-1:-1`.
    static let duplicate = Position(ledgerID: -1, entryID: -1)
}

/// A duplicate whose earlier copy is still being stored.
struct DuplicateWaiting {
    var producer: String
    var sequenceID: Int64
    var completion: Topic.PublishCompletion
}

extension Topic {
    /// The highest sequence id stored for `producer` (PRODUCER_SUCCESS's last sequence
    /// id), or -1 when deduplication is off or the producer is new.
    func lastSequenceID(of producer: String) -> Int64 {
        self.deduplication?.lastSequenceID(of: producer) ?? -1
    }

    /// Turns deduplication on: opens the snapshot cursor, takes its numbers and reads
    /// every entry after it, so a producer's sends stored before a crash or a move from
    /// another broker are known. Run while the topic loads, before anyone publishes.
    func enableDeduplication() async throws {
        guard self.deduplication == nil else { return }
        let cursor = try await self.ledger.openCursor(Deduplication.cursorName, initialPosition: .latest)
        var state = Deduplication(snapshot: await cursor.properties)
        var position = await cursor.markDeletePosition
        let last = await self.ledger.lastConfirmed
        var replayed = 0
        while position < last {
            let entries = try await self.ledger.read(from: await self.ledger.next(after: position), count: 100)
            guard let end = entries.last?.0 else { break }
            for (_, entry) in entries {
                guard let metadata = try? PulsarPayload(parsing: entry).metadata else { continue }
                state.replayed(producer: metadata.producerName, high: Deduplication.highestSequenceID(of: metadata))
            }
            replayed += entries.count
            position = end
        }
        self.deduplication = state
        self.deduplicationCursor = cursor
        self.lastDeduplicated = position
        self.deduplicating.store(true, ordering: .relaxed)
        if replayed > 0 {
            self.logger.info("deduplication rebuilt", metadata: ["topic": "\(self.name)", "entries read": "\(replayed)"])
        }
    }

    /// Drops the snapshot cursor of a topic whose deduplication is off, so that it holds
    /// no ledger back.
    func dropDeduplicationSnapshot() async throws {
        if await self.ledger.cursors.contains(where: { $0.name == Deduplication.cursorName }) {
            try await self.ledger.deleteCursor(Deduplication.cursorName)
        }
    }

    /// On the topic's loop, in send order: stores a message unless its producer sent it
    /// before.
    func publishOnce(_ producer: Producer, _ payload: PulsarPayload, sequenceIDs: ClosedRange<Int64>, completion: @escaping PublishCompletion) {
        guard self.deduplication != nil else { return self.store(producer, payload, completion: completion) }
        let name = producer.name
        switch self.deduplication!.check(producer: name, low: sequenceIDs.lowerBound, high: sequenceIDs.upperBound) {
        case .duplicate:
            completion(.success(.duplicate))
        case .inFlight:
            self.duplicatesWaiting.append(DuplicateWaiting(producer: name, sequenceID: sequenceIDs.lowerBound, completion: completion))
        case .new:
            let high = sequenceIDs.upperBound
            self.store(producer, payload) { result in
                // Appends complete on the topic's loop.
                self.assumeIsolated { $0.deduplicated(name, high: high, result) }
                completion(result)
            }
        }
    }

    /// A message stored through deduplication, or failed.
    private func deduplicated(_ producer: String, high: Int64, _ result: Result<Position, BrokerError>) {
        guard self.deduplication != nil else { return }
        switch result {
        case .success(let position):
            self.lastDeduplicated = position
            if self.deduplication!.stored(producer: producer, high: high) { self.snapshotDeduplication() }
            guard !self.duplicatesWaiting.isEmpty else { return }
            let state = self.deduplication!
            let ready = self.duplicatesWaiting.filter { state.isStored(producer: $0.producer, sequenceID: $0.sequenceID) }
            self.duplicatesWaiting.removeAll { state.isStored(producer: $0.producer, sequenceID: $0.sequenceID) }
            for waiting in ready { waiting.completion(.success(.duplicate)) }
        case .failure(let error):
            self.deduplication!.forgetUnstored()
            let waiting = self.duplicatesWaiting.filter { $0.producer == producer }
            self.duplicatesWaiting.removeAll { $0.producer == producer }
            for duplicate in waiting { duplicate.completion(.failure(error)) }
        }
    }

    /// Marks the snapshot cursor at the last entry stored with the numbers through it; the
    /// managed ledger persists it with its cursors.
    func snapshotDeduplication() {
        guard let cursor = self.deduplicationCursor, let position = self.lastDeduplicated, let state = self.deduplication else { return }
        cursor.assumeIsolated { $0.mark(position, properties: state.persisted) }
        self.deduplication!.snapshotTaken()
    }

    /// Forgets the producers gone for longer than the policies' inactivity timeout (at
    /// `now`, ms since the epoch), and takes a snapshot without them.
    func forgetInactiveProducers(now: UInt64) {
        guard self.deduplication != nil else { return }
        let connected = Set(self.producers.values.map(\.name))
        let timeout = UInt64(self.policies.deduplicationInactivity / .milliseconds(1))
        let forgotten = self.deduplication!.forgetInactive(connected: connected, now: now, timeout: timeout)
        guard !forgotten.isEmpty else { return }
        self.logger.info("deduplication forgot inactive producers", metadata: ["topic": "\(self.name)", "producers": "\(forgotten)"])
        self.snapshotDeduplication()
    }

    /// The topic is closing: duplicates still waiting are told to resend.
    func failDuplicatesWaiting() {
        let waiting = self.duplicatesWaiting
        self.duplicatesWaiting = []
        for duplicate in waiting {
            duplicate.completion(.failure(BrokerError(.serviceNotReady, "\(self.name) closed before message \(duplicate.sequenceID) was stored; resend")))
        }
    }
}

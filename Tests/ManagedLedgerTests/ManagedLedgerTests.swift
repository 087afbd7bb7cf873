import ClusterTesting
import Foundation
import Ledger
import Logging
import ManagedLedger
import Metadata
import NIOCore
import Synchronization
import Testing

/// Real bookie processes, a metadata store and a ledger client, as a broker has.
struct ManagedLedgerCluster {
    let directory: TemporaryDirectory
    let bookies: BookieCluster
    let metadata: any MetadataStore
    let client: LedgerClient

    static func start(label: String) async throws -> ManagedLedgerCluster {
        let directory = try TemporaryDirectory(label: label)
        let bookies = try await BookieCluster.start(count: 3, directory: directory)
        var logger = Logger(label: "managed-ledger-test")
        logger.logLevel = .error
        let metadata = try await MetadataStoreURL.open(bookies.metadataURL, logger: logger)
        let cluster = ManagedLedgerCluster(directory: directory, bookies: bookies, metadata: metadata, client: Self.client(metadata))
        return cluster
    }

    /// A client of its own, as another broker would have.
    static func client(_ metadata: any MetadataStore) -> LedgerClient {
        LedgerClient(metadata: metadata, configuration: .init(requestTimeout: .seconds(2), speculativeReadTimeout: .milliseconds(200)))
    }

    func otherClient() -> LedgerClient { Self.client(self.metadata) }

    func stop() async {
        self.bookies.stopAll()
        await self.metadata.close()
        self.directory.remove()
    }

    /// The ledger list as stored.
    func storedLedgers(_ name: String) async throws -> [ManagedLedger.LedgerInfo] {
        struct List: Decodable { var ledgers: [ManagedLedger.LedgerInfo] }
        let stored = try #require(try await self.metadata.get("/managed-ledgers/\(name)"))
        return try JSONDecoder().decode(List.self, from: Data(stored.value)).ledgers
    }
}

func payload(_ index: Int, size: Int = 100) -> ByteBuffer {
    var buffer = ByteBuffer(string: "message \(index) ")
    buffer.writeRepeatingByte(UInt8(truncatingIfNeeded: index), count: max(0, size - buffer.readableBytes))
    return buffer
}

/// Appends `payload(i)` for every `i` in `range` with the completion variant, all at once;
/// returns the results in completion order with the index each belongs to.
func appendAll(_ ledger: ManagedLedger, _ range: Range<Int>) async -> [(Int, Result<Position, any Error>)] {
    let results = Mutex<[(Int, Result<Position, any Error>)]>([])
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        for index in range {
            ledger.append(payload(index)) { result in
                let done = results.withLock { results in
                    results.append((index, result))
                    return results.count == range.count
                }
                if done { continuation.resume() }
            }
        }
    }
    return results.withLock { $0 }
}

/// Reads everything from `start` in chunks of `chunk`.
func readAll(_ ledger: ManagedLedger, from start: Position, chunk: Int) async throws -> [(Position, ByteBuffer)] {
    var entries: [(Position, ByteBuffer)] = []
    var position = start
    while true {
        let batch = try await ledger.read(from: position, count: chunk)
        guard let last = batch.last else { return entries }
        entries += batch
        position = await ledger.next(after: last.0)
    }
}

extension Actor {
    /// Runs `body` isolated to the actor, so that several steps and checks see one state.
    func run<T: Sendable>(_ body: @Sendable (isolated Self) throws -> T) async rethrows -> T {
        try body(self)
    }
}

func isFenced(_ error: any Error) -> Bool {
    (error as? ManagedLedgerError)?.code == .fenced
}

@Suite("Managed ledgers on real bookies", .timeLimit(.minutes(3)))
struct ManagedLedgerTests {
    /// 1000 entries with rollover every 300: in order, in four ledgers, all read back
    /// from the cache and from bookies, and again after a clean close and reopen.
    @Test func appendsReadBackAcrossRollovers() async throws {
        let cluster = try await ManagedLedgerCluster.start(label: "ml-rollover")
        do {
            let name = "public/default/persistent/rollover"
            // Kept for ever: no cursor reads it, and the reads below go over every ledger.
            let configuration = ManagedLedgerConfiguration(maxEntriesPerLedger: 300, cacheSize: 16 << 10, retention: .infinite)
            let ledger = try await ManagedLedger.open(name: name, client: cluster.client, metadata: cluster.metadata, configuration: configuration)
            await ledger.run { ledger in
                let empty = ledger.lastConfirmed
                #expect(empty.entryID == -1 && ledger.firstPosition == Position(ledgerID: empty.ledgerID, entryID: 0))
            }
            #expect(try await ledger.read(from: await ledger.firstPosition, count: 10).isEmpty)

            let results = await appendAll(ledger, 0..<1000)
            #expect(results.map(\.0) == Array(0..<1000), "completions come in the order of the appends")
            let positions = results.compactMap { try? $0.1.get() }
            #expect(positions.count == 1000, "\(results.first { (try? $0.1.get()) == nil }.map { "\($0.1)" } ?? "")")
            await ledger.run { ledger in
                #expect(zip(positions, positions.dropFirst()).allSatisfy { $0 < $1 && ledger.next(after: $0) == $1 })
                #expect(ledger.ledgers.map(\.entries) == [300, 300, 300, 100])
                #expect(ledger.lastConfirmed == positions.last)
                #expect(ledger.numberOfEntries(after: ledger.firstPosition.previousInLedger, through: ledger.lastConfirmed) == 1000)
            }
            #expect(try await cluster.storedLedgers(name).map(\.id) == ledger.ledgers.map(\.id))

            // A 16 KiB cache holds the last ~160 entries: the rest come from bookies.
            let entries = try await readAll(ledger, from: await ledger.firstPosition, chunk: 77)
            #expect(entries.map(\.0) == positions)
            #expect(entries.map(\.1) == (0..<1000).map { payload($0) })
            let crossing = try await ledger.read(from: positions[299], count: 2)
            #expect(crossing.map(\.0) == [positions[299], positions[300]] && positions[300].entryID == 0)
            #expect(try await ledger.read(from: ledger.run { $0.next(after: $0.lastConfirmed) }, count: 5).isEmpty)
            #expect(try await ledger.read(from: positions[990], count: 50).count == 10)
            try await ledger.close()
            await #expect(throws: ManagedLedgerError.self) { _ = try await ledger.append(payload(0)) }

            let reopened = try await ManagedLedger.open(name: name, client: cluster.otherClient(), metadata: cluster.metadata, configuration: configuration)
            await reopened.run { reopened in
                #expect(reopened.ledgers.dropLast().map(\.entries) == [300, 300, 300, 100])
                #expect(reopened.ledgers.count == 5 && reopened.lastConfirmed == Position(ledgerID: reopened.ledgers[4].id, entryID: -1))
            }
            #expect(try await readAll(reopened, from: await reopened.firstPosition, chunk: 500).map(\.1) == (0..<1000).map { payload($0) })
            #expect(await reopened.waitForEntries(after: positions[998], timeout: .milliseconds(100)), "entry 999 exists in an earlier ledger")
            #expect(await reopened.waitForEntries(after: positions[999], timeout: .milliseconds(100)) == false)
            let next = try await reopened.append(payload(1000))
            await reopened.run { reopened in
                #expect(next == Position(ledgerID: reopened.ledgers[4].id, entryID: 0) && reopened.next(after: positions[999]) == next)
            }
            try await reopened.close()
        } catch {
            Issue.record("\(error)")
        }
        await cluster.stop()
    }

    /// A broker crashes (its managed ledger is abandoned, not closed); another opens the
    /// log with its own client: everything confirmed is readable, the first owner is
    /// fenced, and the list holds the recovered ledger plus a new one.
    @Test func takingOverFencesACrashedOwner() async throws {
        let cluster = try await ManagedLedgerCluster.start(label: "ml-takeover")
        do {
            let name = "public/default/persistent/takeover"
            let configuration = ManagedLedgerConfiguration(maxEntriesPerLedger: 100)
            let first = try await ManagedLedger.open(name: name, client: cluster.client, metadata: cluster.metadata, configuration: configuration)
            let oldCursor = try await first.openCursor("sub", initialPosition: .earliest)
            let results = await appendAll(first, 0..<250)
            let positions = results.compactMap { try? $0.1.get() }
            #expect(positions.count == 250)
            let before = await first.ledgers
            #expect(before.map(\.entries) == [100, 100, 50])
            #expect(try await cluster.storedLedgers(name).last?.entries == 0, "the open ledger's size is not stored per append")

            let second = try await ManagedLedger.open(name: name, client: cluster.otherClient(), metadata: cluster.metadata, configuration: configuration)
            let entries = try await readAll(second, from: await second.firstPosition, chunk: 64)
            #expect(entries.map(\.0) == positions)
            #expect(entries.map(\.1) == (0..<250).map { payload($0) })

            do {
                let position = try await first.append(payload(250))
                Issue.record("the fenced owner appended at \(position)")
            } catch {
                #expect(isFenced(error), "\(error)")
            }
            let later = await appendAll(first, 251..<255)
            #expect(later.allSatisfy { if case .failure(let error) = $0.1 { isFenced(error) } else { false } })
            await oldCursor.ackCumulative(positions[10])
            do {
                try await oldCursor.persist()
                Issue.record("the fenced owner persisted its cursor")
            } catch {
                #expect(isFenced(error), "\(error)")
            }
            let newCursor = try await second.openCursor("sub", initialPosition: .latest)
            #expect(await newCursor.markDeletePosition == Position(ledgerID: before[0].id, entryID: -1), "the new owner keeps the stored cursor")

            let stored = try await cluster.storedLedgers(name)
            #expect(stored.map(\.id) == before.map(\.id) + [stored.last!.id])
            #expect(stored.dropLast().map(\.entries) == [100, 100, 50], "the recovered ledger's real count is recorded")
            #expect(stored.last!.id != before.last!.id && stored.last!.entries == 0)
            #expect(await second.ledgers.map(\.id) == stored.map(\.id))

            let appended = try await second.append(payload(250))
            #expect(appended == Position(ledgerID: stored.last!.id, entryID: 0))
            #expect(try await second.read(from: positions[249], count: 10).map(\.1) == [payload(249), payload(250)])
            try? await first.close()
            try await second.close()
        } catch {
            Issue.record("\(error)")
        }
        await cluster.stop()
    }

    /// Individual and cumulative acks, persisted and reopened by a new owner; rewind,
    /// backlog, seek and delete.
    @Test func cursorsPersistAcrossReopen() async throws {
        let cluster = try await ManagedLedgerCluster.start(label: "ml-cursor")
        do {
            let name = "public/default/persistent/cursor"
            let configuration = ManagedLedgerConfiguration(maxEntriesPerLedger: 12, cursorPersistInterval: .seconds(60))
            let ledger = try await ManagedLedger.open(name: name, client: cluster.client, metadata: cluster.metadata, configuration: configuration)
            let cursor = try await ledger.openCursor("sub/1", initialPosition: .earliest)
            #expect(await cursor.markDeletePosition == Position(ledgerID: ledger.ledgers[0].id, entryID: -1))
            #expect(try await ledger.openCursor("sub/1", initialPosition: .latest) === cursor)
            let p = await appendAll(ledger, 0..<20).compactMap { try? $0.1.get() }
            #expect(p.count == 20)
            await cursor.run { cursor in
                #expect(cursor.readPosition == p[0])
                cursor.ack(p[2])
                cursor.ack(p[3])
                cursor.ack(p[5])
                #expect(cursor.isAcked(p[2]) && cursor.isAcked(p[5]) && !cursor.isAcked(p[4]) && !cursor.isAcked(p[0]))
                #expect(cursor.markDeletePosition == p[0].previousInLedger)
                cursor.ack(p[0])
                #expect(cursor.markDeletePosition == p[0])
                cursor.ack(p[1])
                #expect(cursor.markDeletePosition == p[3])
                #expect(cursor.individuallyAcked == [p[5]...p[5]])
                cursor.ackCumulative(p[7])
                #expect(cursor.markDeletePosition == p[7] && cursor.individuallyAcked.isEmpty)
                // Across the rollover after entry 11.
                cursor.ack(p[11])
                cursor.ack(p[12])
                cursor.ack(p[14])
                #expect(cursor.individuallyAcked == [p[11]...p[12], p[14]...p[14]])
                #expect(cursor.backlog == 20 - 8 - 3)
                cursor.readPosition = p[16]
                cursor.rewind()
                #expect(cursor.readPosition == p[8])
            }

            let latest = try await ledger.openCursor("tail", initialPosition: .latest)
            #expect(await latest.markDeletePosition == ledger.lastConfirmed)
            #expect(await latest.backlog == 0)
            try await cursor.persist()
            try await ledger.close()

            let reopened = try await ManagedLedger.open(name: name, client: cluster.otherClient(), metadata: cluster.metadata, configuration: configuration)
            #expect(Set(await reopened.cursors.map(\.name)) == ["sub/1", "tail"])
            let again = try await reopened.openCursor("sub/1", initialPosition: .latest)
            await again.run { again in
                #expect(again.markDeletePosition == p[7])
                #expect(again.individuallyAcked == [p[11]...p[12], p[14]...p[14]])
                #expect(again.readPosition == p[8] && again.isAcked(p[12]) && !again.isAcked(p[13]))
            }
            let stored = try #require(try await cluster.metadata.get("/managed-ledgers/\(name)/cursors/sub%2F1"))
            let json = try #require(try JSONSerialization.jsonObject(with: Data(stored.value)) as? [String: Any])
            #expect((json["markDelete"] as? [String: Any])?["entryID"] as? Int == Int(p[7].entryID))
            #expect((json["acked"] as? [[Any]])?.count == 2)

            await again.run { again in
                again.ack(p[13])
                #expect(again.markDeletePosition == p[7] && again.individuallyAcked == [p[11]...p[14]])
                again.seek(to: p[4])
                #expect(again.markDeletePosition == p[3] && again.individuallyAcked.isEmpty && again.readPosition == p[4])
            }
            try await reopened.deleteCursor("sub/1")
            #expect(try await cluster.metadata.get("/managed-ledgers/\(name)/cursors/sub%2F1") == nil)
            #expect(await reopened.cursors.map(\.name) == ["tail"])
            try await reopened.close()
        } catch {
            Issue.record("\(error)")
        }
        await cluster.stop()
    }

    /// Acks of some messages of a batch entry: what is left is the AND of the acks, it
    /// survives a reopen, and the entry counts as acked once nothing of it is left.
    @Test func batchIndexAcksAccumulateAndPersist() async throws {
        let cluster = try await ManagedLedgerCluster.start(label: "ml-batch-acks")
        do {
            let name = "public/default/persistent/batches"
            let configuration = ManagedLedgerConfiguration(cursorPersistInterval: .seconds(60))
            let ledger = try await ManagedLedger.open(name: name, client: cluster.client, metadata: cluster.metadata, configuration: configuration)
            let cursor = try await ledger.openCursor("s", initialPosition: .earliest)
            let p = await appendAll(ledger, 0..<4).compactMap { try? $0.1.get() }.sorted()
            #expect(p.count == 4)

            // Set bits are messages not yet acked; a batch of four messages is 0b1111.
            await cursor.run { cursor in
                #expect(cursor.ack(p[1], batchIndexes: [0b1110]) == false)
                #expect(cursor.ack(p[1], batchIndexes: [0b1011]) == false)
                #expect(cursor.unackedBatchIndexes(of: p[1]) == [0b1010])
                #expect(cursor.isAcked(p[1]) == false)
                #expect(cursor.ack(p[2], batchIndexes: [0b0111]) == false)
            }
            try await cursor.persist()
            try await ledger.close()

            let reopened = try await ManagedLedger.open(name: name, client: cluster.otherClient(), metadata: cluster.metadata, configuration: configuration)
            let again = try await reopened.openCursor("s", initialPosition: .latest)
            await again.run { again in
                #expect(again.unackedBatchIndexes(of: p[1]) == [0b1010])
                #expect(again.unackedBatchIndexes(of: p[2]) == [0b0111])
                #expect(again.ack(p[1], batchIndexes: [0b0101]) == true, "nothing of the batch is left")
                #expect(again.isAcked(p[1]) && again.unackedBatchIndexes(of: p[1]) == nil)
                // A whole-entry ack, a cumulative ack or a seek forgets the partial state.
                again.ackCumulative(p[2])
                #expect(again.unackedBatchIndexes(of: p[2]) == nil && again.markDeletePosition == p[2])
                #expect(again.ack(p[3], batchIndexes: [0b1]) == false)
                again.seek(to: p[0])
                #expect(again.unackedBatchIndexes(of: p[3]) == nil)
            }
            try await reopened.close()
        } catch {
            Issue.record("\(error)")
        }
        await cluster.stop()
    }

    /// A ledger is removed from the list and deleted once every cursor has persisted a
    /// mark-delete position past it: on `persist()`, and by the periodic task.
    @Test func consumedLedgersAreTrimmed() async throws {
        let cluster = try await ManagedLedgerCluster.start(label: "ml-trim")
        do {
            let name = "public/default/persistent/trim"
            let configuration = ManagedLedgerConfiguration(maxEntriesPerLedger: 10, cursorPersistInterval: .milliseconds(200))
            let ledger = try await ManagedLedger.open(name: name, client: cluster.client, metadata: cluster.metadata, configuration: configuration)
            let fast = try await ledger.openCursor("fast", initialPosition: .earliest)
            let slow = try await ledger.openCursor("slow", initialPosition: .earliest)
            let p = await appendAll(ledger, 0..<25).compactMap { try? $0.1.get() }
            #expect(p.count == 25)
            let ids = await ledger.ledgers.map(\.id)
            #expect(await ledger.ledgers.map(\.entries) == [10, 10, 5])

            await fast.ackCumulative(p[19])
            try await fast.persist()
            #expect(await ledger.ledgers.map(\.id) == ids, "the slow cursor still needs every ledger")
            await slow.ackCumulative(p[9])
            try await slow.persist()
            #expect(await ledger.ledgers.map(\.id) == Array(ids.dropFirst()))
            #expect(try await cluster.storedLedgers(name).map(\.id) == Array(ids.dropFirst()))
            #expect(await ledger.firstPosition == p[10])
            do {
                _ = try await cluster.client.readMetadata(ids[0])
                Issue.record("trimmed ledger \(ids[0]) still exists")
            } catch let error as LedgerError {
                #expect(error.code == .noSuchLedger)
            }
            #expect(try await ledger.read(from: Position(ledgerID: ids[0], entryID: 3), count: 1).map(\.0) == [p[10]])

            // The periodic task persists and trims without being asked; never the current ledger.
            await slow.ackCumulative(p[24])
            await fast.ackCumulative(p[24])
            let deadline = ContinuousClock.now + .seconds(10)
            while await ledger.ledgers.count > 1, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(await ledger.ledgers.map(\.id) == [ids[2]])
            #expect(try await cluster.storedLedgers(name).map(\.id) == [ids[2]])
            #expect(await slow.persistedMarkDeletePosition == p[24])
            try await ledger.close()
        } catch {
            Issue.record("\(error)")
        }
        await cluster.stop()
    }

    /// A tailing reader waits for the next entry and wakes on the append; a wait times
    /// out, and a cancelled one returns at once.
    @Test func tailingReadersWakeOnAppend() async throws {
        let cluster = try await ManagedLedgerCluster.start(label: "ml-tail")
        do {
            let name = "public/default/persistent/tail"
            let ledger = try await ManagedLedger.open(name: name, client: cluster.client, metadata: cluster.metadata, configuration: .init())
            let start = await ledger.lastConfirmed
            let clock = ContinuousClock()
            var elapsed = await clock.measure { #expect(await ledger.waitForEntries(after: start, timeout: .milliseconds(200)) == false) }
            #expect(elapsed >= .milliseconds(150))

            let waiting = Task { await ledger.waitForEntries(after: start, timeout: .seconds(30)) }
            try await Task.sleep(for: .milliseconds(200))
            let appendedAt = clock.now
            let position = try await ledger.append(payload(1))
            #expect(await waiting.value)
            #expect(clock.now - appendedAt < .seconds(5))
            #expect(try await ledger.read(from: ledger.next(after: start), count: 10).map(\.0) == [position])
            #expect(await ledger.waitForEntries(after: start, timeout: .seconds(30)), "an entry already exists")

            let cancelled = Task { await ledger.waitForEntries(after: position, timeout: .seconds(30)) }
            try await Task.sleep(for: .milliseconds(100))
            elapsed = await clock.measure {
                cancelled.cancel()
                #expect(await cancelled.value == false)
            }
            #expect(elapsed < .seconds(5))
            try await ledger.close()
        } catch {
            Issue.record("\(error)")
        }
        await cluster.stop()
    }
}

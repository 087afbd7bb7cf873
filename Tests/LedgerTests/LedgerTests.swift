import ClusterTesting
import Foundation
import Ledger
import Logging
import Metadata
import NIOCore
import Synchronization
import Testing

/// A cluster of real bookie processes and a ledger client on its metadata store.
struct LedgerCluster {
    let directory: TemporaryDirectory
    let bookies: BookieCluster
    let metadata: any MetadataStore
    let client: LedgerClient

    static func start(bookies count: Int, label: String, requestTimeout: Duration = .seconds(2)) async throws -> LedgerCluster {
        let directory = try TemporaryDirectory(label: label)
        let bookies = try await BookieCluster.start(count: count, directory: directory)
        var logger = Logger(label: "ledger-test")
        logger.logLevel = .error
        let metadata = try await MetadataStoreURL.open(bookies.metadataURL, logger: logger)
        let client = LedgerClient(
            metadata: metadata, configuration: .init(requestTimeout: requestTimeout, quarantineTime: .seconds(30), speculativeReadTimeout: .milliseconds(200))
        )
        return LedgerCluster(directory: directory, bookies: bookies, metadata: metadata, client: client)
    }

    func stop() async {
        self.bookies.stopAll()
        await self.metadata.close()
        self.directory.remove()
    }

    /// A new client on the same store, as another broker would have.
    func otherClient(requestTimeout: Duration = .seconds(2)) -> LedgerClient {
        LedgerClient(metadata: self.metadata, configuration: .init(requestTimeout: requestTimeout, speculativeReadTimeout: .milliseconds(200)))
    }

    static func payload(_ entry: Int64, size: Int = 64) -> ByteBuffer {
        var buffer = ByteBuffer(string: "entry \(entry) ")
        buffer.writeRepeatingByte(UInt8(truncatingIfNeeded: entry), count: max(0, size - buffer.readableBytes))
        return buffer
    }

    /// The index of a bookie id in the cluster.
    func index(of bookieID: String) -> Int {
        self.bookies.ids.firstIndex(of: bookieID)!
    }
}

/// Appends `count` entries with up to `inFlight` outstanding; returns what each add
/// returned, in completion order.
func appendMany(_ writer: LedgerWriter, count: Int, inFlight: Int, startingAt first: Int64 = 0, onConfirmed: (@Sendable (Int64) -> Void)? = nil)
    async -> [Result<Int64, LedgerError>]
{
    let results = Mutex<[Result<Int64, LedgerError>]>([])
    await withTaskGroup(of: Void.self) { group in
        let window = AsyncWindow(inFlight)
        for offset in 0..<count {
            await window.acquire()
            writer.append(LedgerCluster.payload(first + Int64(offset))) { result in
                results.withLock { $0.append(result) }
                if case .success(let id) = result { onConfirmed?(id) }
                window.release()
            }
        }
        await window.drain()
    }
    return results.withLock { $0 }
}

/// A flag set once.
final class Flag: Sendable {
    private let value = Atomic(false)

    /// Sets the flag; true for the caller that set it first.
    func set() -> Bool { !self.value.exchange(true, ordering: .relaxed) }

    var isSet: Bool { self.value.load(ordering: .relaxed) }
}

/// Bounds outstanding operations.
final class AsyncWindow: Sendable {
    private struct State {
        var free: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state: Mutex<State>
    private let size: Int

    init(_ size: Int) {
        self.size = size
        self.state = Mutex(State(free: size))
    }

    func acquire() async {
        await withCheckedContinuation { continuation in
            let ready = self.state.withLock { state in
                if state.free > 0 {
                    state.free -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    func release() {
        let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.free += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume()
    }

    /// Waits until everything acquired was released.
    func drain() async {
        for _ in 0..<self.size { await self.acquire() }
    }
}

@Suite("Ledger metadata and arguments")
struct LedgerUnitTests {
    @Test func writeSetsStripeOverTheEnsemble() throws {
        let metadata = LedgerMetadata(
            state: .open, ensembleSize: 3, writeQuorum: 2, ackQuorum: 1,
            ensembles: [.init(firstEntryID: 0, bookies: ["a", "b", "c"]), .init(firstEntryID: 10, bookies: ["a", "d", "c"])],
            lastEntryID: -1, length: 0, digestType: "CRC32C", password: "p", creationTime: 0, customMetadata: ["topic": "t"]
        )
        #expect(metadata.writeSet(for: 0) == ["a", "b"])
        #expect(metadata.writeSet(for: 2) == ["c", "a"])
        #expect(metadata.writeSet(for: 10) == ["d", "c"])
        #expect(metadata.ensemble(for: 9) == ["a", "b", "c"])
        let decoded = try JSONDecoder().decode(LedgerMetadata.self, from: JSONEncoder().encode(metadata))
        #expect(decoded == metadata)
    }

    @Test func quorumsAreValidatedWithAClearError() async throws {
        let client = LedgerClient(metadata: MemoryMetadataStore())
        for (e, w, a) in [(2, 3, 2), (3, 2, 3), (3, 3, 0)] {
            await #expect(throws: LedgerError.self) { _ = try await client.createLedger(ensembleSize: e, writeQuorum: w, ackQuorum: a) }
        }
        do {
            _ = try await client.createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 2)
            Issue.record("a ledger was created with no bookies")
        } catch let error as LedgerError {
            #expect(error.code == .notEnoughBookies)
            #expect(error.message.contains("only 0 writable bookies"), "\(error)")
        }
    }
}

@Suite("Ledgers on real bookies", .timeLimit(.minutes(3)))
struct LedgerClusterTests {
    @Test func entriesWrittenToAQuorumReadBackAfterClose() async throws {
        let cluster = try await LedgerCluster.start(bookies: 3, label: "ledger-basic")
        do {
            do {
                _ = try await cluster.client.createLedger(ensembleSize: 4, writeQuorum: 3, ackQuorum: 2)
                Issue.record("an ensemble of 4 was placed on 3 bookies")
            } catch let error as LedgerError {
                #expect(error.code == .notEnoughBookies && error.message.contains("only 3 writable bookies") && error.message.contains("need 4"), "\(error)")
            }
            let writer = try await cluster.client.createLedger(ensembleSize: 3, writeQuorum: 2, ackQuorum: 2, customMetadata: ["topic": "t1"])
            let results = await appendMany(writer, count: 500, inFlight: 64)
            #expect(results.map { try? $0.get() } == (0..<500).map { Int64($0) }, "completions come in entry order")
            let closed = try await writer.close()
            #expect(closed.state == .closed && closed.lastEntryID == 499)
            #expect(closed.length == UInt64((0..<500).reduce(0) { $0 + LedgerCluster.payload(Int64($1)).readableBytes }))
            await #expect(throws: LedgerError.self) { try await writer.append(LedgerCluster.payload(500)) }

            let reader = try await cluster.otherClient().openLedger(writer.ledgerID)
            #expect(reader.lastAddConfirmed == 499)
            #expect(reader.metadata.customMetadata == ["topic": "t1"])
            let entries = try await reader.read(from: 0, through: 499)
            #expect(entries == (0..<500).map { LedgerCluster.payload(Int64($0)) })
            await #expect(throws: LedgerError.self) { _ = try await reader.read(500) }

            try await cluster.client.deleteLedger(writer.ledgerID)
            await #expect(throws: LedgerError.self) { _ = try await cluster.client.openLedger(writer.ledgerID) }
        } catch {
            Issue.record("\(error)")
        }
        await cluster.stop()
    }

    /// A tailing reader learns of new entries by long poll; a frozen bookie is read around
    /// by speculative reads long before its requests would time out.
    @Test func tailingReadsAndSpeculativeReads() async throws {
        let cluster = try await LedgerCluster.start(bookies: 3, label: "ledger-tail")
        do {
            let writer = try await cluster.client.createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 2)
            #expect(await appendMany(writer, count: 10, inFlight: 1).allSatisfy { (try? $0.get()) != nil })
            let reader = try await cluster.otherClient().openLedger(writer.ledgerID)
            // Bookies know the LAC the last add carried, one behind the writer's, until the
            // idle writer tells them its own.
            let known = reader.lastAddConfirmed
            #expect((8...9).contains(known), "LAC \(known)")
            let tail = Task { try await reader.waitForEntries(after: 9, timeout: .seconds(20)) }
            try await Task.sleep(for: .milliseconds(200))
            #expect(await appendMany(writer, count: 5, inFlight: 1, startingAt: 10).allSatisfy { (try? $0.get()) != nil })
            let lac = try await tail.value
            #expect(lac >= 10, "the long poll returned LAC \(lac)")
            #expect(try await reader.read(from: 0, through: lac) == (0...lac).map { LedgerCluster.payload($0) })

            let slowFirst = await writer.currentMetadata.writeSet(for: 3)[0]
            cluster.bookies.pause(cluster.index(of: slowFirst))
            let patient = try await cluster.otherClient(requestTimeout: .seconds(60)).openLedger(writer.ledgerID)
            let start = ContinuousClock.now
            #expect(try await patient.read(3) == LedgerCluster.payload(3))
            let elapsed = ContinuousClock.now - start
            #expect(elapsed < .seconds(30), "read around a frozen replica in \(elapsed), with a 60 s request timeout")
            cluster.bookies.resume(cluster.index(of: slowFirst))
        } catch {
            Issue.record("\(error)")
        }
        await cluster.stop()
    }

    /// A writer that goes idle tells its bookies the LAC its last add could not carry, so
    /// a reader (and a recoverer) sees every confirmed entry.
    @Test func anIdleWriterTellsTheBookiesItsLastAddConfirmed() async throws {
        let cluster = try await LedgerCluster.start(bookies: 3, label: "ledger-idle-lac")
        do {
            let writer = try await cluster.client.createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 2)
            #expect(await appendMany(writer, count: 10, inFlight: 1).allSatisfy { (try? $0.get()) != nil })
            try await Task.sleep(for: .seconds(1))
            let reader = try await cluster.otherClient().openLedger(writer.ledgerID)
            #expect(reader.lastAddConfirmed == 9, "an idle writer's bookies report LAC \(reader.lastAddConfirmed)")
            #expect(try await reader.read(9) == LedgerCluster.payload(9))
        } catch {
            Issue.record("\(error)")
        }
        await cluster.stop()
    }

    /// 50k entries at E=3 Qw=3 Qa=2 while one bookie of the ensemble is SIGKILLed and a
    /// fourth is available: the writer sees no error, every entry reads back, and the
    /// metadata shows the ensemble change.
    @Test func aKilledBookieIsReplacedWithoutTheWriterNoticing() async throws {
        let cluster = try await LedgerCluster.start(bookies: 4, label: "ledger-ensemble-change")
        do {
            let writer = try await cluster.client.createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 2)
            let first = await writer.currentMetadata.ensembles[0].bookies
            let victim = first[1]
            let killed = Flag()
            let victimIndex = cluster.index(of: victim)
            let results = await appendMany(writer, count: 20_000, inFlight: 256) { id in
                if id == 6_000, killed.set() {
                    cluster.bookies.kill(victimIndex)
                }
            }
            #expect(killed.isSet)
            let failures = results.filter { if case .failure = $0 { true } else { false } }
            #expect(failures.isEmpty, "the writer saw \(failures.count) errors, first \(String(describing: failures.first))")
            #expect(results.count == 20_000)
            let metadata = try await writer.close()
            #expect(metadata.lastEntryID == 19_999)
            #expect(metadata.ensembles.count >= 2, "\(metadata.ensembles)")
            #expect(!metadata.ensembles.last!.bookies.contains(victim), "\(metadata.ensembles)")
            #expect(metadata.ensembles.last!.bookies.contains { !first.contains($0) }, "the fourth bookie joined")

            let reader = try await cluster.otherClient().openLedger(writer.ledgerID)
            var next: Int64 = 0
            while next <= 19_999 {
                let last = min(next + 999, 19_999)
                let entries = try await reader.read(from: next, through: last)
                #expect(entries == (next...last).map { LedgerCluster.payload($0) })
                next = last + 1
            }
        } catch {
            Issue.record("\(error)")
        }
        await cluster.stop()
    }

    /// Writer A writes; B recovers the same ledger. A's later adds fail as fenced; B closes
    /// at or after every entry A saw confirmed; every reader agrees on the end.
    @Test func recoveryFencesTheWriterAndReadersAgree() async throws {
        let cluster = try await LedgerCluster.start(bookies: 3, label: "ledger-fence")
        do {
            let writer = try await cluster.client.createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 2)
            let confirmed = Mutex<Int64>(-1)
            let writing = Task {
                await appendMany(writer, count: 20_000, inFlight: 128) { id in confirmed.withLock { $0 = max($0, id) } }
            }
            try await Task.sleep(for: .milliseconds(300))
            let recovered = try await cluster.otherClient().recoverLedger(writer.ledgerID)
            let seenBeforeRecovery = confirmed.withLock { $0 }
            let results = await writing.value
            let confirmedByWriter = results.compactMap { try? $0.get() }.max() ?? -1
            #expect(recovered.metadata.state == .closed)
            #expect(recovered.lastAddConfirmed >= confirmedByWriter, "closed at \(recovered.lastAddConfirmed), writer saw \(confirmedByWriter) confirmed")
            #expect(seenBeforeRecovery <= confirmedByWriter)
            let fenced = results.filter { if case .failure(let error) = $0 { error.code == .fenced } else { false } }
            #expect(!fenced.isEmpty || confirmedByWriter == 19_999, "the writer was stopped")
            do {
                try await writer.append(LedgerCluster.payload(99))
                Issue.record("an add after recovery succeeded")
            } catch let error as LedgerError {
                #expect(error.code == .fenced, "\(error)")
            }
            await #expect(throws: LedgerError.self) { try await writer.close() }
            for _ in 0..<2 {
                let again = try await cluster.otherClient().recoverLedger(writer.ledgerID)
                #expect(again.lastAddConfirmed == recovered.lastAddConfirmed)
                let reader = try await cluster.otherClient().openLedger(writer.ledgerID)
                #expect(reader.lastAddConfirmed == recovered.lastAddConfirmed)
            }
            if recovered.lastAddConfirmed >= 0 {
                let entries = try await recovered.read(from: 0, through: recovered.lastAddConfirmed)
                #expect(entries == (0...recovered.lastAddConfirmed).map { LedgerCluster.payload($0) })
            }
        } catch {
            Issue.record("\(error)")
        }
        await cluster.stop()
    }

    /// Recovery completes with one bookie of the ensemble down; with two down it fails
    /// clearly and leaves the ledger recoverable once they are back.
    @Test func recoveryNeedsEnoughBookiesAndCanBeRetried() async throws {
        let cluster = try await LedgerCluster.start(bookies: 3, label: "ledger-recovery-down")
        do {
            let one = try await cluster.client.createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 2)
            let two = try await cluster.client.createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 2)
            #expect(await appendMany(one, count: 300, inFlight: 32).allSatisfy { (try? $0.get()) != nil })
            #expect(await appendMany(two, count: 200, inFlight: 32).allSatisfy { (try? $0.get()) != nil })

            cluster.bookies.kill(0)
            let recovered = try await cluster.otherClient().recoverLedger(one.ledgerID)
            #expect(recovered.lastAddConfirmed == 299)
            #expect(try await recovered.read(299) == LedgerCluster.payload(299))

            cluster.bookies.kill(1)
            do {
                _ = try await cluster.otherClient().recoverLedger(two.ledgerID)
                Issue.record("recovery with one bookie of three succeeded")
            } catch let error as LedgerError {
                #expect(error.code == .recoveryFailed, "\(error)")
                #expect(error.message.contains("IN_RECOVERY"), "\(error)")
            }
            #expect(try await cluster.client.readMetadata(two.ledgerID).0.state == .inRecovery)
            try await cluster.bookies.restart(0)
            try await cluster.bookies.restart(1)
            let later = try await cluster.otherClient().recoverLedger(two.ledgerID)
            #expect(later.lastAddConfirmed == 199)
            #expect(try await later.read(from: 0, through: 199) == (0..<200).map { LedgerCluster.payload(Int64($0)) })
        } catch {
            Issue.record("\(error)")
        }
        await cluster.stop()
    }

    /// A bookie that lost its data answers UNKNOWN: recovery does not count that as
    /// "absent", so it refuses to decide rather than cut the ledger short, and finishes
    /// correctly once a bookie that kept its data is back.
    @Test func aBookieThatLostItsDataDoesNotTruncateTheLedger() async throws {
        let cluster = try await LedgerCluster.start(bookies: 3, label: "ledger-data-loss")
        do {
            let writer = try await cluster.client.createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 2)
            #expect(await appendMany(writer, count: 100, inFlight: 16).allSatisfy { (try? $0.get()) != nil })
            cluster.bookies.kill(0)
            try cluster.bookies.wipe(0)
            try await cluster.bookies.restart(0)
            cluster.bookies.kill(2)
            do {
                let recovered = try await cluster.otherClient().recoverLedger(writer.ledgerID)
                Issue.record("recovery decided with only one intact bookie: closed at \(recovered.lastAddConfirmed)")
            } catch let error as LedgerError {
                #expect(error.code == .recoveryFailed, "\(error)")
            }
            try await cluster.bookies.restart(2)
            let recovered = try await cluster.otherClient().recoverLedger(writer.ledgerID)
            #expect(recovered.lastAddConfirmed == 99)
            #expect(try await recovered.read(from: 0, through: 99) == (0..<100).map { LedgerCluster.payload(Int64($0)) })
        } catch {
            Issue.record("\(error)")
        }
        await cluster.stop()
    }
}

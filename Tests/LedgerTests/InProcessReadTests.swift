import BookieWire
import ClusterTesting
import Ledger
import LedgerTesting
import Metadata
import NIOCore
import Testing

@Suite("Reads and the LAC on in-process bookies", .timeLimit(.minutes(1)))
struct InProcessReadTests {
    /// A replica that fails reads, or is down, is read around: the entry comes from the
    /// next replica of its write set.
    @Test func aReadFailsOverToAnotherReplica() async throws {
        try await InProcessCluster.with(bookies: 3) { cluster in
            let writer = try await cluster.client().createLedger(ensembleSize: 3, writeQuorum: 2, ackQuorum: 2)
            #expect(await appendMany(writer, count: 12, inFlight: 4).allSatisfy { (try? $0.get()) != nil })
            let metadata = try await writer.close()
            let failing = cluster.bookie(metadata.writeSet(for: 3)[0])
            failing.setFault { if case .read = $0 { .fail(.ioError) } else { nil } }
            let reader = try await cluster.client().openLedger(writer.ledgerID)
            let before = failing.received(.read)
            #expect(try await reader.read(3) == LedgerCluster.payload(3))
            #expect(failing.received(.read) == before + 1, "the failing replica was asked first")

            failing.setFault(nil)
            let down = cluster.bookie(metadata.writeSet(for: 4)[0])
            down.isDown = true
            #expect(try await reader.read(4) == LedgerCluster.payload(4))
            // Every entry still reads, one replica of some write sets being down.
            #expect(try await reader.read(from: 0, through: 11) == (0..<12).map { LedgerCluster.payload(Int64($0)) })

            // With every replica unusable, the read fails and says why.
            #expect(metadata.writeSet(for: 3) == [failing.id, down.id])
            failing.setFault { if case .read = $0 { .fail(.ioError) } else { nil } }
            await #expect(throws: LedgerError.self) { _ = try await reader.read(3) }
        }
    }

    /// A replica that holds a read is read around after the speculative read timeout on
    /// the client's clock — not before the test moves it, however long that takes, and
    /// long before the request would time out. (In-process counterpart of the frozen
    /// bookie half of `tailingReadsAndSpeculativeReads`.)
    @Test func aSlowReplicaIsReadAroundBySpeculation() async throws {
        let clock = ManualClock()
        try await InProcessCluster.with(bookies: 3, clock: clock) { cluster in
            let configuration = LedgerClient.Configuration(requestTimeout: .seconds(60), speculativeReadTimeout: .milliseconds(300))
            let writer = try await cluster.client(configuration: configuration).createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 2)
            #expect(await appendMany(writer, count: 5, inFlight: 1).allSatisfy { (try? $0.get()) != nil })
            let metadata = try await writer.close()
            let slow = cluster.bookie(metadata.writeSet(for: 3)[0])
            let second = cluster.bookie(metadata.writeSet(for: 3)[1])
            slow.setFault { if case .read = $0 { .hold } else { nil } }
            let reader = try await cluster.client(configuration: configuration).openLedger(writer.ledgerID)
            let secondBefore = second.received(.read)
            let reading = Task { try await reader.read(3) }
            // The held read's timeout and the speculative timer.
            #expect(await clock.waitForSleepers(2))
            #expect(second.received(.read) == secondBefore, "no speculative read before its time")
            clock.advance(by: .milliseconds(300))
            #expect(try await reading.value == LedgerCluster.payload(3))
            #expect(second.received(.read) == secondBefore + 1)
            slow.setFault(nil)
            slow.releaseHeld()
        }
    }

    /// A writer gone idle tells its bookies its LAC once the explicit-LAC delay has passed
    /// on the client's clock; before, they know only the LAC its last add carried.
    /// (In-process counterpart of `anIdleWriterTellsTheBookiesItsLastAddConfirmed`.)
    @Test func anIdleWriterTellsItsBookiesTheLACAfterTheDelay() async throws {
        let clock = ManualClock()
        try await InProcessCluster.with(bookies: 3, clock: clock) { cluster in
            let configuration = LedgerClient.Configuration(requestTimeout: .seconds(60), explicitLACDelay: .milliseconds(100))
            let writer = try await cluster.client(configuration: configuration).createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 2)
            #expect(await appendMany(writer, count: 10, inFlight: 1).allSatisfy { (try? $0.get()) != nil })
            #expect(await clock.waitForSleepers(1), "the explicit-LAC timer")
            let early = try await cluster.client(configuration: configuration).openLedger(writer.ledgerID)
            #expect(early.lastAddConfirmed == 8, "the bookies know the LAC the last add carried")
            #expect(cluster.bookies.allSatisfy { $0.received(.writeLAC) == 0 })
            clock.advance(by: .milliseconds(100))
            #expect(await waitUntil(timeout: .seconds(5)) { cluster.bookies.allSatisfy { $0.received(.writeLAC) == 1 } })
            let reader = try await cluster.client(configuration: configuration).openLedger(writer.ledgerID)
            #expect(await waitUntil(timeout: .seconds(5)) { (try? await reader.readLastAddConfirmed()) == 9 })
            #expect(try await reader.read(9) == LedgerCluster.payload(9))
        }
    }

    /// A tailing reader's long poll returns when the writer's next add moves the LAC.
    @Test func aLongPollReturnsWhenTheLACMoves() async throws {
        try await InProcessCluster.with(bookies: 3) { cluster in
            let writer = try await cluster.client().createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 2)
            #expect(await appendMany(writer, count: 10, inFlight: 1).allSatisfy { (try? $0.get()) != nil })
            let reader = try await cluster.client().openLedger(writer.ledgerID)
            let known = reader.lastAddConfirmed
            let tail = Task { try await reader.waitForEntries(after: 9, timeout: .seconds(20)) }
            #expect(await appendMany(writer, count: 3, inFlight: 1, startingAt: 10).allSatisfy { (try? $0.get()) != nil })
            let lac = try await tail.value
            #expect(lac >= 10 && lac > known, "the long poll returned LAC \(lac)")
        }
    }
}

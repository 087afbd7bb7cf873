import ClusterTesting
import Ledger
import LedgerTesting
import NIOCore
import Testing

@Suite("Ledgers under random kills and recoveries", .timeLimit(.minutes(4)))
struct RandomizedLedgerTests {
    /// Writes, bookie kills and restarts, and recoveries in a seeded order, over several
    /// quorum shapes. At each recovery: the writer is fenced, the ledger closes at or after
    /// every entry the writer saw confirmed, and a second recovery agrees. At the end, with
    /// every bookie back, every confirmed entry of every ledger reads back intact.
    ///
    /// With real bookie processes killed by SIGKILL: one seed (the in-process suite runs
    /// the same steps over more seeds in milliseconds).
    @Test(arguments: [UInt64(20261121)])
    func invariantsHoldAtEveryStep(seed: UInt64) async throws {
        let cluster = try await LedgerCluster.start(bookies: 5, label: "ledger-random-\(seed)")
        await Self.exercise(seed: seed, ProcessTarget(cluster: cluster))
        await cluster.stop()
    }

    /// The same steps over in-process bookies: a killed bookie is one that cannot be
    /// reached until it comes back.
    @Test(arguments: [UInt64(20261121), 6, 8, 11, 12, 13])
    func invariantsHoldAtEveryStepInProcess(seed: UInt64) async throws {
        let cluster = try await InProcessCluster.start(bookies: 5)
        await Self.exercise(seed: seed, InProcessTarget(cluster: cluster, client: cluster.client(configuration: .init(requestTimeout: .seconds(2)))))
        await cluster.shutdown()
    }

    /// What the steps do to a cluster.
    protocol Target: Sendable {
        var client: LedgerClient { get }
        func otherClient() -> LedgerClient
        func kill(_ index: Int)
        func restart(_ index: Int) async throws
    }

    struct ProcessTarget: Target {
        let cluster: LedgerCluster
        var client: LedgerClient { self.cluster.client }
        func otherClient() -> LedgerClient { self.cluster.otherClient() }
        func kill(_ index: Int) { self.cluster.bookies.kill(index) }
        func restart(_ index: Int) async throws { try await self.cluster.bookies.restart(index) }
    }

    struct InProcessTarget: Target {
        let cluster: InProcessCluster
        let client: LedgerClient
        func otherClient() -> LedgerClient { self.cluster.client(configuration: .init(requestTimeout: .seconds(2))) }
        func kill(_ index: Int) { self.cluster.bookies[index].isDown = true }
        func restart(_ index: Int) async throws { self.cluster.bookies[index].isDown = false }
    }

    static func exercise(seed: UInt64, _ cluster: some Target) async {
        var random = SplitMix64(seed: seed)
        let shapes = [(3, 3, 1), (3, 3, 2), (3, 3, 3), (3, 2, 1), (3, 2, 2)]
        var closed: [(id: Int64, last: Int64)] = []
        var writer: LedgerWriter?
        var confirmed: Int64 = -1
        var written: Int64 = 0
        var down: Set<Int> = []
        var kills = 0
        var recoveries = 0
        do {
            for step in 0..<30 {
                switch Int.random(in: 0..<10, using: &random) {
                case 0..<5:  // Write a burst, opening a ledger if needed.
                    if writer == nil {
                        let shape = shapes.randomElement(using: &random)!
                        writer = try await cluster.client.createLedger(ensembleSize: shape.0, writeQuorum: shape.1, ackQuorum: shape.2)
                        confirmed = -1
                        written = 0
                    }
                    let count = Int.random(in: 50...400, using: &random)
                    let results = await appendMany(writer!, count: count, inFlight: 64, startingAt: written)
                    let ids = results.compactMap { try? $0.get() }
                    #expect(ids.count == count, "step \(step): \(count - ids.count) adds failed with \(down.count) bookies down")
                    confirmed = max(confirmed, ids.max() ?? confirmed)
                    written += Int64(count)
                case 5..<7:  // Kill a bookie, keeping at least three up.
                    let up = (0..<5).filter { !down.contains($0) }
                    if up.count > 3 {
                        let victim = up.randomElement(using: &random)!
                        cluster.kill(victim)
                        down.insert(victim)
                        kills += 1
                    }
                case 7..<8:  // Bring one back.
                    if let back = down.sorted().randomElement(using: &random) {
                        try await cluster.restart(back)
                        down.remove(back)
                    }
                default:  // Another client recovers the open ledger.
                    guard let open = writer else { continue }
                    let recovered: LedgerReader
                    do {
                        recovered = try await cluster.otherClient().recoverLedger(open.ledgerID)
                    } catch let error as LedgerError where error.code == .recoveryFailed {
                        // Legitimate when too few bookies of the last ensemble are up (with
                        // Qa = 1 every one of them is needed); it must work once they are.
                        for index in down.sorted() { try await cluster.restart(index) }
                        down.removeAll()
                        recovered = try await cluster.otherClient().recoverLedger(open.ledgerID)
                    }
                    #expect(recovered.metadata.state == .closed)
                    #expect(recovered.lastAddConfirmed >= confirmed, "step \(step): closed at \(recovered.lastAddConfirmed), \(confirmed) was confirmed")
                    do {
                        try await open.append(LedgerCluster.payload(written))
                        Issue.record("step \(step): an add after recovery succeeded")
                    } catch let error as LedgerError {
                        #expect(error.code == .fenced, "\(error)")
                    }
                    let again = try await cluster.otherClient().recoverLedger(open.ledgerID)
                    #expect(again.lastAddConfirmed == recovered.lastAddConfirmed)
                    closed.append((open.ledgerID, recovered.lastAddConfirmed))
                    writer = nil
                    recoveries += 1
                }
            }
            #expect(kills > 0 && recoveries > 0, "the seed exercised \(kills) kills and \(recoveries) recoveries")
            if let open = writer {
                let metadata = try await open.close()
                #expect(metadata.lastEntryID == confirmed)
                closed.append((open.ledgerID, metadata.lastEntryID))
            }
            for index in down.sorted() { try await cluster.restart(index) }
            for (id, last) in closed where last >= 0 {
                let reader = try await cluster.otherClient().openLedger(id)
                #expect(reader.lastAddConfirmed == last)
                let entries = try await reader.read(from: 0, through: last)
                #expect(entries == (0...last).map { LedgerCluster.payload($0) }, "ledger \(id)")
            }
        } catch {
            Issue.record("seed \(seed): \(error)")
        }
    }
}

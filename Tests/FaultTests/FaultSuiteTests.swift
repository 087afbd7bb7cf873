import ClusterTesting
import Foundation
import Testing

/// The fault suite: a workload through a cluster of 3 brokers, 4 bookies and 3 etcd
/// members while the nemesis injects faults; then everything is healed and drained, and
/// the run is checked (see ``WorkloadCheck`` and ``LedgerCopiesCheck``).
///
/// `FAULT_COUNT` sets the number of faults (default 50) and `FAULT_SEED` the seed, printed
/// so that a failing run can be replayed. Without it the run uses ``defaultSeed``, whose
/// schedule has every kind of fault, so that the test command always plays one schedule;
/// `tools/faults` runs long with a random seed (or one given).
@Suite struct FaultSuiteTests {
    static let count = ProcessInfo.processInfo.environment["FAULT_COUNT"].flatMap(Int.init) ?? 50
    /// The seed of the run without FAULT_SEED.
    static let defaultSeed: UInt64 = 628_414_527_730_548_177
    /// Room for the cluster's start, the faults (about 2.5 s each) and the final checks.
    static let minutes = 10 + Self.count / 20

    @Test(.timeLimit(.minutes(Self.minutes)))
    func everyReceiptedMessageSurvivesSeededFaults() async throws {
        let environment = ProcessInfo.processInfo.environment
        let count = Self.count
        let seed = environment["FAULT_SEED"].flatMap { UInt64($0) } ?? Self.defaultSeed
        print("fault run: seed \(seed), \(count) faults (replay with FAULT_SEED=\(seed) FAULT_COUNT=\(count))")

        let settings = FaultCluster.Settings()
        let schedule = Nemesis.schedule(
            seed: seed, count: count,
            settings: .init(shape: settings.shape, sessionTTL: .seconds(settings.sessionTTLSeconds), gap: .milliseconds(1500)...(.milliseconds(3000)))
        )
        let history = FaultHistory()
        let cluster = try await FaultCluster.start(settings: settings)
        history.record("cluster up in \(cluster.directory.path)")
        var passed = false
        var keep = false
        do {
            let workload = try await FaultWorkload.start(on: cluster)
            defer { workload.stopAll() }
            history.record("workload started: topics \(workload.topics.map { "\($0.name)\($0.dedup ? " (dedup)" : "")" })")
            try await workload.waitForReceipts(20, timeout: .seconds(60))
            let executor = FaultExecutor(cluster: cluster, history: history, seed: seed)
            do {
                try await executor.play(schedule)
            } catch {
                await executor.healAll()
                throw error
            }
            await executor.healAll()
            if !executor.down.isEmpty {
                try await Task.sleep(for: .seconds(2))
                await executor.supervise()
            }
            let down = executor.down
            history.record("all healed; letting sessions and bundles settle")
            try await Task.sleep(for: .seconds(settings.sessionTTLSeconds + 3))
            let unfinished = await workload.stopProducers(timeout: .seconds(90))
            history.record("producers stopped\(unfinished.isEmpty ? "" : "; not cleanly: \(unfinished)")")
            let drained = try await workload.drain(timeout: .seconds(90))
            history.record(drained ? "every subscription received every receipted message" : "drain timed out")
            workload.stopConsumers()

            let report = WorkloadCheck.check(
                receipts: workload.receipts(), deliveries: workload.deliveries(), subscriptions: workload.subscriptions,
                dedupProducers: workload.dedupProducers
            )
            let ledgers = try await LedgerCopiesCheck.run(metadataURL: cluster.etcd.url)
            history.record("checked")
            let injected = executor.injected
            print("--- faults injected: \(injected.values.reduce(0, +)) — " + FaultKind.allCases.map { "\($0.rawValue) \(injected[$0] ?? 0)" }.joined(separator: ", "))
            print("--- unexpected exits: \(executor.unexpectedExits.count) \(executor.unexpectedExits)")
            print("--- failed steps: \(executor.failedSteps.count)" + executor.failedSteps.map { "\n  \($0)" }.joined())
            print("--- down at the end: \(down)")
            print("--- workload: \(report)")
            print("--- ledger copies: \(ledgers)")
            for line in await LossDiagnosis.describe(report.lost, metadataURL: cluster.etcd.url) { print("--- lost at \(line)") }
            #expect(injected.values.reduce(0, +) == count)
            #expect(report.acknowledged > 0)
            #expect(report.lost.isEmpty, "receipted messages lost (seed \(seed))")
            #expect(report.duplicatesWithDedup.isEmpty, "duplicates with deduplication on (seed \(seed))")
            #expect(report.reordered.isEmpty, "producer order broken (seed \(seed))")
            #expect(ledgers.closedLedgers > 0)
            #expect(ledgers.problems.isEmpty, "closed ledgers whose copies differ or are missing (seed \(seed))")
            // Known: a producer whose topic stayed unavailable after healing could not finish
            // its sends in time. The causes found (bundle keys naming a broker that did not
            // hold them, consumers left registered after their client gave up, unloads
            // waiting for ever for a ledger to close) are fixed; until runs show no other,
            // this availability check stays a known issue. Every safety check above is
            // strict.
            withKnownIssue("a topic unavailable for minutes after the faults are healed", isIntermittent: true) {
                #expect(unfinished.isEmpty, "producers that could not finish their sends (seed \(seed))")
            }
            #expect(down.isEmpty, "processes that did not come back after healing (seed \(seed))")
            passed = report.passed && ledgers.problems.isEmpty && ledgers.closedLedgers > 0 && down.isEmpty
            keep = !passed || !unfinished.isEmpty
            if !unfinished.isEmpty { print("--- unfinished producers (seed \(seed)):\n\(history.text)") }
            if !passed { print("--- history (seed \(seed)):\n\(history.text)") }
        } catch {
            print("--- history (seed \(seed)):\n\(history.text)")
            await cluster.stop(keep: true)
            print("FAILED fault run, seed \(seed); logs kept in \(cluster.directory.path)")
            throw error
        }
        await cluster.stop(keep: keep)
        if keep { print("\(passed ? "UNFINISHED PRODUCERS in" : "FAILED") fault run, seed \(seed); logs kept in \(cluster.directory.path)") }
    }
}

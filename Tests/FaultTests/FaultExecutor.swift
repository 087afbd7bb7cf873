import ClusterTesting
import Foundation
import Synchronization

/// Applies the nemesis' faults to the real processes of a ``FaultCluster``, one action at a
/// time, and records each in the history.
///
/// After every action it restarts any process that exited although no fault stopped it
/// (recorded as an unexpected exit, with the end of its log).
final class FaultExecutor: Sendable {
    let cluster: FaultCluster
    let history: FaultHistory
    private let random: Mutex<SplitMix64>
    private let state = Mutex(State())

    private struct State {
        var injected: [FaultKind: Int] = [:]
        var unexpectedExits: [String] = []
        var failedSteps: [String] = []
        var active: [Fault] = []
    }

    init(cluster: FaultCluster, history: FaultHistory, seed: UInt64) {
        self.cluster = cluster
        self.history = history
        self.random = Mutex(SplitMix64(seed: seed ^ 0x6A09_E667_F3BC_C908))
    }

    var injected: [FaultKind: Int] { self.state.withLock { $0.injected } }
    var unexpectedExits: [String] { self.state.withLock { $0.unexpectedExits } }
    var failedSteps: [String] { self.state.withLock { $0.failedSteps } }

    /// The processes that are not running.
    var down: [String] {
        let cluster = self.cluster
        let shape = cluster.settings.shape
        return (0..<shape.brokers).filter { !cluster.isBrokerRunning($0) }.map { "broker-\($0 + 1)" }
            + (0..<shape.bookies).filter { !cluster.bookies.isRunning($0) }.map { "bookie-\($0 + 1)" }
            + (0..<shape.etcdMembers).filter { !cluster.etcd.isRunning($0) }.map { "etcd member-\($0 + 1)" }
    }

    /// Plays `schedule` in real time from now: each fault injected at its time and healed
    /// `duration` later (heals first when both fall at once). An action that runs late
    /// delays the ones after it, so the order, and what is in effect at each step, is
    /// always the schedule's.
    func play(_ schedule: [ScheduledFault]) async throws {
        enum Step { case heal(Fault), inject(Fault) }
        var steps: [(at: Duration, order: Int, step: Step)] = []
        for item in schedule {
            steps.append((item.at, 1, .inject(item.fault)))
            steps.append((item.healAt, 0, .heal(item.fault)))
        }
        steps.sort { ($0.at, $0.order) < ($1.at, $1.order) }
        let start = ContinuousClock.now
        for (at, _, step) in steps {
            try await Task.sleep(until: start + at, clock: .continuous)
            // A step that fails (a process that does not come back in time) is recorded and
            // the run goes on; supervision starts what is down again.
            do {
                switch step {
                case .inject(let fault): try await self.inject(fault)
                case .heal(let fault): try await self.heal(fault)
                }
            } catch {
                self.history.record("STEP FAILED: \(String(describing: error).prefix(800))")
                self.state.withLock { $0.failedSteps.append(String(describing: error).prefix(300).description) }
            }
            await self.supervise()
        }
    }

    func inject(_ fault: Fault) async throws {
        self.history.record("inject \(fault)")
        self.state.withLock {
            $0.injected[fault.kind, default: 0] += 1
            $0.active.append(fault)
        }
        let cluster = self.cluster
        let index = fault.target
        switch fault.kind {
        case .killBroker: cluster.brokerProcess(index)?.stop()
        case .pauseBroker: cluster.brokerProcess(index)?.kill(SIGSTOP)
        case .isolateBroker: cluster.brokerProxies[index].kill(SIGUSR1)
        case .killBookie: cluster.bookies.kill(index)
        case .pauseBookie: cluster.bookies.pause(index)
        case .fillBookieDisk:
            try await cluster.disks[index].fill(leaving: 0)
            self.history.record("  bookie-\(index + 1)'s disk has \(cluster.disks[index].freeBytes) bytes free")
        case .tearJournalTail, .flipJournalTail:
            cluster.bookies.kill(index)
            let directory = cluster.bookies.directory.file("bookie-\(index + 1)/journal")
            let damage: JournalTail.Damage = fault.kind == .tearJournalTail ? .torn : .flipped
            let what = try self.random.withLock { try JournalTail.damage(damage, directory: directory, random: &$0) }
            self.history.record("  bookie-\(index + 1): \(what)")
        case .slowBookieSync:
            cluster.bookies.kill(index)
            try await cluster.bookies.restart(index, extraArguments: ["--testing-journal-sync-delay-ms", "\(cluster.settings.slowSyncMilliseconds)"])
        case .killEtcd: cluster.etcd.kill(index)
        case .pauseEtcd: cluster.etcd.pause(index)
        case .isolateEtcd: cluster.etcdPeerProxies[index].kill(SIGUSR1)
        }
    }

    func heal(_ fault: Fault) async throws {
        self.history.record("heal \(fault.kind.rawValue) \(fault.kind.role.rawValue)-\(fault.target + 1)")
        self.state.withLock { state in state.active.removeAll { $0 == fault } }
        let cluster = self.cluster
        let index = fault.target
        switch fault.kind {
        case .killBroker: try await cluster.startBroker(index)
        case .pauseBroker: cluster.brokerProcess(index)?.kill(SIGCONT)
        case .isolateBroker: cluster.brokerProxies[index].kill(SIGUSR2)
        case .killBookie, .tearJournalTail, .flipJournalTail: try await cluster.bookies.restart(index)
        case .pauseBookie: cluster.bookies.resume(index)
        case .fillBookieDisk: try cluster.disks[index].free()
        case .slowBookieSync:
            cluster.bookies.kill(index)
            try await cluster.bookies.restart(index)
        case .killEtcd: try await cluster.etcd.restart(index)
        case .pauseEtcd: cluster.etcd.resume(index)
        case .isolateEtcd: cluster.etcdPeerProxies[index].kill(SIGUSR2)
        }
    }

    /// Heals whatever is still in effect, newest first, and starts what is down.
    func healAll() async {
        for fault in self.state.withLock({ $0.active }).reversed() {
            do {
                try await self.heal(fault)
            } catch {
                self.history.record("  cannot heal \(fault): \(error)")
            }
        }
        await self.supervise()
    }

    /// Restarts every process that is down although no fault in effect stopped it.
    func supervise() async {
        let active = self.state.withLock { $0.active }
        func stopped(_ role: FaultRole, _ index: Int) -> Bool {
            active.contains { $0.kind.role == role && $0.target == index && $0.kind.stopsProcess }
        }
        let cluster = self.cluster
        for index in 0..<cluster.settings.shape.brokers where !stopped(.broker, index) && !cluster.isBrokerRunning(index) {
            self.exited("broker-\(index + 1)", log: cluster.brokerProcess(index)?.output() ?? "")
            await self.attempt("restart broker-\(index + 1)") { try await cluster.startBroker(index) }
        }
        for index in 0..<cluster.settings.shape.bookies where !stopped(.bookie, index) && !cluster.bookies.isRunning(index) {
            self.exited("bookie-\(index + 1)", log: "")
            await self.attempt("restart bookie-\(index + 1)") { try await cluster.bookies.restart(index) }
        }
        for index in 0..<cluster.settings.shape.etcdMembers where !stopped(.etcd, index) && !cluster.etcd.isRunning(index) {
            self.exited("etcd member-\(index + 1)", log: "")
            await self.attempt("restart etcd member-\(index + 1)") { try await cluster.etcd.restart(index) }
        }
    }

    private func exited(_ name: String, log: String) {
        let tail = log.split(separator: "\n").suffix(3).joined(separator: " | ")
        self.history.record("UNEXPECTED EXIT of \(name)\(tail.isEmpty ? "" : ": \(tail)")")
        self.state.withLock { $0.unexpectedExits.append(name) }
    }

    private func attempt(_ what: String, _ body: () async throws -> Void) async {
        do {
            try await body()
        } catch {
            self.history.record("  cannot \(what): \(String(describing: error).prefix(500))")
        }
    }
}

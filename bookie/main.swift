import ArgumentParser
import Autorecovery
import BookieServer
import Logging
import MagnetarVersion
import Metrics
import Prometheus
import ServiceLifecycle
import Settings
import UnixSignals

/// The storage node: keeps ledger entries durably and serves them to brokers.
@main
struct Bookie: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bookie",
        abstract: "Magnetar storage node: stores ledger entries durably on a quorum of bookies.",
        discussion: """
            Every setting can also come from the environment (MAGNETAR_BOOKIE_ and the name in \
            capitals with '_' for '-', e.g. MAGNETAR_BOOKIE_JOURNAL_DIR) or from a --config file \
            of 'name = value' lines (see bookie/bookie.conf). Flags win over the environment, \
            which wins over the file.
            """,
        version: MagnetarVersion.current
    )

    @Option(help: "A file of 'name = value' settings.") var config: String?
    @Option(help: "This bookie's id, unique in the cluster.") var id: String?
    @Option(help: "Address to serve the bookie protocol on, HOST:PORT (port 0 picks one; default 127.0.0.1:3181).") var listen: String?
    @Option(help: "Port for /metrics and /health on the listen host (default 8000; 0 picks one).") var httpPort: String?
    @Option(help: "Directory for the journal.") var journalDir: String?
    @Option(help: "Comma-separated ledger storage directories.") var ledgerDirs: String?
    @Option(help: "memory:, sqlite:<path> or etcd://host:port[,host:port…]") var metadataUrl: String?
    @Option(help: "Rack name, for rack-aware placement.") var rack: String?
    @Option(help: "fdatasync the journal before acknowledging (true|false, default true).") var journalSync: String?
    @Option(help: "Seconds between garbage collections of deleted ledgers (default 300).") var gcIntervalSeconds: String?
    @Option(help: "Seconds between looks for copies of ledgers that no longer name this bookie, which are then dropped (default 3600; 0: never).")
    var overReplicatedGcSeconds: String?
    @Option(help: "Compact entry logs with less live data than this fraction (default 0.5).") var compactionThreshold: String?
    @Option(help: "Most MB/s that compaction copies (default 32).") var compactionRateMb: String?
    @Option(help: "Turn read-only past this fraction of disk use (default 0.95).") var readOnlyAbove: String?
    @Option(help: "Turn writable again at this fraction of disk use (default 0.90).") var writableBelow: String?
    @Option(help: "Refuse recovery adds too past this fraction of disk use (default: halfway from read-only-above to 1).")
    var fullAbove: String?
    @Option(help: "Seconds the bookie's registration outlives its last keep-alive (default 10).") var sessionTtlSeconds: String?
    @Option(help: "Run autorecovery (the auditor and a re-replication worker) in this bookie (true|false, default true).") var autorecovery: String?
    @Option(help: "Seconds between audits for lost bookies; workers look for marked ledgers as often, at most every 10 s (default 30).")
    var auditIntervalSeconds: String?
    @Option(help: "Seconds a bookie may be missing before its ledgers are re-replicated (default 60).") var lostBookieGraceSeconds: String?
    @Option(help: "Most MB/s a re-replication worker copies (default 50; 0: no limit).") var rereplicationRateMb: String?
    @Option(help: "Requests of one connection read and not answered past which it is not read until half are answered (default 10000).")
    var maxPendingRequestsPerConnection: String?
    @Option(help: "Testing only: wait this many milliseconds before every journal sync, as a slow disk would (default 0).")
    var testingJournalSyncDelayMs: String?

    static let settingNames: Set<String> = [
        "id", "listen", "http-port", "journal-dir", "ledger-dirs", "metadata-url", "rack", "journal-sync",
        "gc-interval-seconds", "over-replicated-gc-seconds", "compaction-threshold", "compaction-rate-mb", "read-only-above", "writable-below", "full-above",
        "session-ttl-seconds", "testing-journal-sync-delay-ms", "autorecovery", "audit-interval-seconds", "lost-bookie-grace-seconds",
        "rereplication-rate-mb", "max-pending-requests-per-connection",
    ]

    func run() async throws {
        Supervision.followSupervisor()
        var configuration: BookieService.Configuration
        let httpPort: Int
        do {
            let settings = try Settings(file: self.config, environmentPrefix: "MAGNETAR_BOOKIE_", known: Self.settingNames)
            let listen = settings.string("listen", flag: self.listen) ?? "127.0.0.1:3181"
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65_535).contains(port) else {
                throw ValidationError("listen must be HOST:PORT, got '\(listen)'")
            }
            httpPort = try settings.value("http-port", flag: self.httpPort, default: 8000) { Int($0).flatMap { (0...65_535).contains($0) ? $0 : nil } }
            let fraction: (String) -> Double? = { Double($0).flatMap { (0...1).contains($0) ? $0 : nil } }
            let readOnlyAbove = try settings.value("read-only-above", flag: self.readOnlyAbove, default: 0.95, fraction)
            let writableBelow = try settings.value("writable-below", flag: self.writableBelow, default: 0.90, fraction)
            let fullAbove = try settings.value("full-above", flag: self.fullAbove, default: readOnlyAbove + (1 - readOnlyAbove) / 2, fraction)
            guard fullAbove >= readOnlyAbove else {
                throw ValidationError("full-above (\(fullAbove)) must not be below read-only-above (\(readOnlyAbove))")
            }
            guard writableBelow <= readOnlyAbove else {
                throw ValidationError("writable-below (\(writableBelow)) must not exceed read-only-above (\(readOnlyAbove))")
            }
            configuration = .init(
                id: try settings.required("id", flag: self.id),
                host: String(listen[..<colon]),
                port: port,
                httpPort: httpPort,
                journalDirectory: try settings.required("journal-dir", flag: self.journalDir),
                ledgerDirectories: try settings.required("ledger-dirs", flag: self.ledgerDirs).split(separator: ",").map(String.init),
                metadataURL: try settings.required("metadata-url", flag: self.metadataUrl),
                rack: settings.string("rack", flag: self.rack),
                journalSync: try settings.bool("journal-sync", flag: self.journalSync, default: true),
                diskMonitor: DiskMonitor(readOnlyAbove: readOnlyAbove, writableBelow: writableBelow, fullAbove: fullAbove),
                garbageCollectionInterval: .seconds(
                    try settings.value("gc-interval-seconds", flag: self.gcIntervalSeconds, default: 300) { Double($0).flatMap { $0 > 0 ? $0 : nil } }
                ),
                compactionThreshold: try settings.value("compaction-threshold", flag: self.compactionThreshold, default: 0.5, fraction),
                compactionRate: Int(
                    try settings.value("compaction-rate-mb", flag: self.compactionRateMb, default: 32) { Double($0).flatMap { $0 > 0 ? $0 : nil } }
                        * 1_048_576
                )
            )
            configuration.sessionTTL = .milliseconds(
                Int(try settings.value("session-ttl-seconds", flag: self.sessionTtlSeconds, default: 10) { Double($0).flatMap { (0.5...86_400).contains($0) ? $0 : nil } } * 1000)
            )
            configuration.maxPendingRequestsPerConnection = try settings.value(
                "max-pending-requests-per-connection", flag: self.maxPendingRequestsPerConnection, default: 10_000
            ) { Int($0).flatMap { (1...10_000_000).contains($0) ? $0 : nil } }
            configuration.testingJournalSyncDelay = .milliseconds(
                try settings.value("testing-journal-sync-delay-ms", flag: self.testingJournalSyncDelayMs, default: 0) { Int($0).flatMap { $0 >= 0 ? $0 : nil } }
            )
            let surplusCheck = try settings.value("over-replicated-gc-seconds", flag: self.overReplicatedGcSeconds, default: 3600) {
                Double($0).flatMap { $0 >= 0 ? $0 : nil }
            }
            configuration.overReplicationCheckInterval = surplusCheck > 0 ? .milliseconds(Int(surplusCheck * 1000)) : nil
            configuration.autorecovery = try settings.bool("autorecovery", flag: self.autorecovery, default: true)
            let seconds: (String) -> Double? = { Double($0).flatMap { (0.05...86_400 * 7).contains($0) ? $0 : nil } }
            let auditInterval = try settings.value("audit-interval-seconds", flag: self.auditIntervalSeconds, default: 30, seconds)
            let grace = try settings.value("lost-bookie-grace-seconds", flag: self.lostBookieGraceSeconds, default: 60) {
                Double($0).flatMap { (0...86_400 * 7).contains($0) ? $0 : nil }
            }
            let rate = try settings.value("rereplication-rate-mb", flag: self.rereplicationRateMb, default: 50) { Double($0).flatMap { $0 >= 0 ? $0 : nil } }
            configuration.autorecoverySettings = .init(
                id: configuration.id, auditInterval: .milliseconds(Int(auditInterval * 1000)), lostBookieGrace: .milliseconds(Int(grace * 1000)),
                workerInterval: .milliseconds(Int(min(auditInterval, 10) * 1000)), bytesPerSecond: rate > 0 ? Int(rate * 1_048_576) : nil
            )
        } catch let problem as Settings.Problem {
            throw ValidationError(problem.description)
        }
        guard !configuration.ledgerDirectories.isEmpty else { throw ValidationError("ledger-dirs names no directory") }
        // Entries arrive in buffers of hundreds of KiB that live until the next flush: keep
        // freed memory in the heap for reuse instead of mapping and zeroing fresh pages.
        _ = mallopt(mallocMmapThreshold, 32 << 20)
        _ = mallopt(mallocTrimThreshold, 256 << 20)
        var logger = Logger(label: "bookie")
        logger.logLevel = .info
        // Every metric of the process, from here on, lands in one registry that /metrics serves.
        let registry = PrometheusCollectorRegistry()
        var metricsFactory = PrometheusMetricsFactory(registry: registry)
        metricsFactory.durationHistogramBuckets = BookieMetrics.durationBuckets
        MetricsSystem.bootstrap(metricsFactory)
        // One service group holds every part of the bookie; SIGTERM and SIGINT shut it down
        // in order. A stop that hangs past the limits below ends the process.
        let service = BookieService(configuration: configuration, logger: logger, metricsFactory: metricsFactory, metricsRegistry: registry)
        try await service.run { group in
            group.gracefulShutdownSignals = [.sigterm, .sigint]
            group.maximumGracefulShutdownDuration = .seconds(10)
            group.maximumCancellationDuration = .seconds(5)
        }
    }
}

/// glibc's `mallopt` (declared in `malloc.h`, which the Glibc module leaves out) and the
/// two parameters the bookie sets.
@_silgen_name("mallopt") private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
private let mallocTrimThreshold: Int32 = -1
private let mallocMmapThreshold: Int32 = -3

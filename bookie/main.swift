import ArgumentParser
import BookieServer
import Logging
import MagnetarVersion
import ServiceLifecycle
import UnixSignals

/// The storage node: keeps ledger entries durably and serves them to brokers.
@main
struct Bookie: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bookie",
        abstract: "Magnetar storage node: stores ledger entries durably on a quorum of bookies.",
        version: MagnetarVersion.current
    )

    @Option(help: "This bookie's id, unique in the cluster.") var id: String
    @Option(help: "Address to serve the bookie protocol on, HOST:PORT (port 0 picks one).") var listen = "127.0.0.1:3181"
    @Option(help: "Port for /metrics and /health (not served yet in this version).") var httpPort: Int?
    @Option(help: "Directory for the journal.") var journalDir: String
    @Option(help: "Comma-separated ledger storage directories.") var ledgerDirs: String
    @Option(help: "memory:, sqlite:<path> or etcd://host:port[,host:port…]") var metadataUrl: String
    @Option(help: "Rack name, for rack-aware placement.") var rack: String?
    @Option(help: "fdatasync the journal before acknowledging (true|false).") var journalSync = true

    func run() async throws {
        guard let colon = self.listen.lastIndex(of: ":"), let port = Int(self.listen[self.listen.index(after: colon)...]),
            (0...65_535).contains(port)
        else {
            throw ValidationError("--listen must be HOST:PORT, got '\(self.listen)'")
        }
        var logger = Logger(label: "bookie")
        logger.logLevel = .info
        let service = BookieService(
            configuration: .init(
                id: self.id,
                host: String(self.listen[..<colon]),
                port: port,
                journalDirectory: self.journalDir,
                ledgerDirectories: self.ledgerDirs.split(separator: ",").map(String.init),
                metadataURL: self.metadataUrl,
                rack: self.rack,
                journalSync: self.journalSync
            ),
            logger: logger
        )
        let group = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

import ArgumentParser

extension Magnetar {
    /// Starts bookies and a broker on this host.
    struct Standalone: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a one-host cluster: bookies and a broker sharing a SQLite metadata file."
        )

        @Option(help: "Directory for metadata and bookie data.")
        var dataDir = "data"

        @Option(help: "Number of bookie processes.")
        var bookies = 3

        func run() async throws {
            throw ValidationError(
                "standalone needs the bookie and broker servers, which are not built yet in this version"
            )
        }
    }
}

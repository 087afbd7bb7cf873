import ArgumentParser
import MagnetarVersion

/// The operator's command-line tool.
@main
struct Magnetar: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "magnetar",
        abstract: "Run and operate a Magnetar cluster.",
        version: MagnetarVersion.current,
        subcommands: [Standalone.self, MetadataCommand.self, Perf.self]
    )
}

/// Options shared by every command that talks to the metadata store.
struct MetadataOptions: ParsableArguments {
    @Option(name: .customLong("metadata-url"), help: "memory:, sqlite:<path> or etcd://host:port[,host:port…]")
    var url: String
}

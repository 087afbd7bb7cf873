import ArgumentParser
import Foundation
import MagnetarVersion

/// The operator's command-line tool.
@main
struct Magnetar: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "magnetar",
        abstract: "Run and operate a Magnetar cluster.",
        version: MagnetarVersion.current,
        subcommands: [Standalone.self, MetadataCommand.self, Produce.self, Consume.self, Perf.self, Admin.self, Verify.self]
    )

    /// Parses and runs the command as argument-parser does, except that usage errors of
    /// `magnetar admin` exit with status 2, which its scripts rely on (argument-parser's
    /// own is 64).
    static func main() async {
        do {
            var command = try parseAsRoot(Self.adminOptionsLast(Array(CommandLine.arguments.dropFirst())))
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            if CommandLine.arguments.dropFirst().first == "admin", exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

extension Magnetar {
    /// The options every `admin` command takes, which pulsar-admin users also put before
    /// the command (`magnetar admin --admin-url URL topics list t/ns`): moved after it,
    /// where the parser reads them.
    static func adminOptionsLast(_ arguments: [String]) -> [String] {
        guard arguments.first == "admin" else { return arguments }
        let withValue: Set<String> = ["--admin-url", "--context", "--output", "-o", "--timeout"]
        var leading: [String] = []
        var index = 1
        while index < arguments.count {
            let word = arguments[index]
            if withValue.contains(word), index + 1 < arguments.count {
                leading += [word, arguments[index + 1]]
                index += 2
            } else if let name = word.split(separator: "=", maxSplits: 1).first, word.contains("="), withValue.contains(String(name)) {
                leading.append(word)
                index += 1
            } else {
                break
            }
        }
        return ["admin"] + arguments[index...] + leading
    }
}

/// Options shared by every command that talks to the metadata store.
struct MetadataOptions: ParsableArguments {
    @Option(name: .customLong("metadata-url"), help: "memory:, sqlite:<path> or etcd://host:port[,host:port…]")
    var url: String
}

import ArgumentParser
import Foundation
import MagnetarHTTP

/// `magnetar admin …`: a pulsar-admin work-alike over Pulsar's admin REST API v2.
///
/// Exit status: 0 on success, 1 when the server refuses (`Error: <reason> (HTTP <status>)`
/// on standard error), 2 for a usage error, 3 when the server cannot be reached or does
/// not answer in time.
struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Administer a cluster over Pulsar's admin REST API (pulsar-admin's commands).",
        discussion: """
            The admin URL is --admin-url, else the --context's, else the current context's \
            (see `magnetar admin context`), else http://localhost:8080. Exit status: 0 success, \
            1 the server refused, 2 usage error, 3 the server cannot be reached.
            """,
        subcommands: [
            Clusters.self, Tenants.self, Namespaces.self, Topics.self, Brokers.self, Bookies.self, ContextCommand.self,
        ]
    )

    /// Runs `body` with the session `options` ask for; an ``AdminError`` is printed as
    /// `Error: …` and ends the process with its exit status (a usage error goes through
    /// the argument parser, so that usage is shown).
    static func perform(_ options: AdminOptions, _ body: (AdminSession) async throws -> Void) async throws {
        do {
            try await body(try AdminSession(options))
        } catch let error as AdminError {
            try Self.fail(error)
        }
    }

    /// Reports `error` as ``perform(_:_:)`` does.
    static func fail(_ error: AdminError) throws -> Never {
        if error.code == .invalidArgument { throw ValidationError(error.message) }
        var line = "Error: \(error.message)"
        if let status = error.httpStatus { line += " (HTTP \(status))" }
        FileHandle.standardError.write(Data((line + "\n").utf8))
        throw ExitCode(error.exitStatus)
    }
}

/// The options every admin command that talks to a server takes.
struct AdminOptions: ParsableArguments {
    @Option(name: .customLong("admin-url"), help: "The broker's admin URL, e.g. http://localhost:8080.")
    var adminURL: String?

    @Option(help: "Use this context's admin URL (see `magnetar admin context`).")
    var context: String?

    @Option(name: [.customShort("o"), .long], help: "Print text or the server's JSON.")
    var output: AdminOutput.Format = .text

    @Option(help: "Seconds to wait for each answer.")
    var timeout: Int = 30
}

/// An admin command that sends one request and prints its answer.
protocol AdminCommand: AsyncParsableCommand {
    var options: AdminOptions { get }
    /// The request this command sends; throws for a malformed argument.
    func request() throws(AdminError) -> AdminRequest
    /// What text output prints when the answer is empty, e.g. `created …`.
    var confirmation: String? { get }
    /// Text lines for a JSON answer, replacing ``AdminOutput``'s default.
    func lines(_ json: Any) -> [String]?
}

extension AdminCommand {
    var confirmation: String? { nil }
    func lines(_ json: Any) -> [String]? { nil }

    func run() async throws {
        try await Admin.perform(self.options) { session in
            let response = try await session.send(try self.request())
            session.show(response, confirmation: self.confirmation, lines: self.lines)
        }
    }
}

/// A topic or namespace argument as the confirmation names it: fully written out when it
/// parses, else as given.
func fullName(topic text: String) -> String { (try? AdminName.topic(text))?.description ?? text }

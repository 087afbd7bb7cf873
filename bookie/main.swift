import ArgumentParser
import MagnetarVersion

/// The storage node: keeps ledger entries durably and serves them to brokers.
@main
struct Bookie: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bookie",
        abstract: "Magnetar storage node: stores ledger entries durably on a quorum of bookies.",
        version: MagnetarVersion.current
    )

    func run() throws {
        throw ValidationError("the bookie server is not built yet in this version")
    }
}

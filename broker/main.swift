import ArgumentParser
import MagnetarVersion

/// The serving node: speaks the Pulsar protocol and writes topics to bookies.
@main
struct Broker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Magnetar broker: serves Pulsar clients and stores topics on bookies.",
        version: MagnetarVersion.current
    )

    func run() throws {
        throw ValidationError("the broker is not built yet in this version")
    }
}

public import ArgumentParser
import Foundation
public import MagnetarClient

/// The options every client command takes: where the cluster is.
struct ClientOptions: ParsableArguments {
    @Option(name: [.customLong("url"), .customLong("service-url")], help: "The cluster's service URL, pulsar://host:port.")
    var serviceURL = "pulsar://localhost:6650"

    /// A client of ``serviceURL``; a malformed URL is a usage error.
    func client() throws -> PulsarClient {
        do {
            return try PulsarClient(serviceURL: self.serviceURL)
        } catch {
            throw ValidationError("--url: \(error.message)")
        }
    }
}

extension SubscriptionType: ExpressibleByArgument {
    /// Pulsar's spellings (`Exclusive`, `Key_Shared`) and ours (`key-shared`).
    public init?(argument: String) {
        switch argument.lowercased().replacingOccurrences(of: "_", with: "").replacingOccurrences(of: "-", with: "") {
        case "exclusive": self = .exclusive
        case "shared": self = .shared
        case "failover": self = .failover
        case "keyshared": self = .keyShared
        default: return nil
        }
    }

    public static var allValueStrings: [String] { ["Exclusive", "Shared", "Failover", "Key_Shared"] }
}

extension InitialPosition: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument.lowercased() {
        case "earliest": self = .earliest
        case "latest": self = .latest
        default: return nil
        }
    }

    public static var allValueStrings: [String] { ["Earliest", "Latest"] }
}

extension MessageCompression: ExpressibleByArgument {
    public init?(argument: String) {
        self.init(rawValue: argument.lowercased())
    }
}

/// Parses `key=value` properties.
func parseProperties(_ pairs: [String]) throws -> [String: String] {
    var properties: [String: String] = [:]
    for pair in pairs {
        guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
            throw ValidationError("--properties takes key=value, not '\(pair)'")
        }
        properties[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
    }
    return properties
}

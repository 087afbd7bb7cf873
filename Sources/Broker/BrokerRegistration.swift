import Foundation

/// The value of a live broker's ephemeral key `/brokers/available/<id>`: where it serves
/// and its last load report. JSON, with Pulsar's field names where Pulsar has them.
struct BrokerRegistration: Codable, Hashable, Sendable {
    /// `host:http-port`, as Pulsar names brokers.
    var brokerId: String
    /// `pulsar://host:port`.
    var pulsarServiceUrl: String
    /// `http://host:port`.
    var webServiceUrl: String
    var cluster: String
    var load: BrokerLoadReport

    var address: BrokerAddress { BrokerAddress(brokerId: self.brokerId, pulsarURL: self.pulsarServiceUrl, httpURL: self.webServiceUrl) }

    func encoded() throws -> [UInt8] { Array(try JSONEncoder().encode(self)) }

    static func decoded(_ bytes: [UInt8]) throws -> BrokerRegistration {
        try JSONDecoder().decode(BrokerRegistration.self, from: Data(bytes))
    }
}

/// What a broker carries, measured over the last report interval.
struct BrokerLoadReport: Codable, Hashable, Sendable {
    /// Share of the host's CPU time the broker used, 0…1.
    var cpu: Double = 0
    var connections: Int = 0
    var topics: Int = 0
    /// Messages per second published.
    var msgRateIn: Double = 0
    /// Entries (batches) per second delivered to consumers.
    var msgRateOut: Double = 0
    /// Bytes per second published and delivered.
    var msgThroughputIn: Double = 0
    var msgThroughputOut: Double = 0
    /// The bundles owned, by `tenant/namespace/range`.
    var bundles: [String: BundleLoad] = [:]
    /// Seconds since 1970 when the report was made.
    var timestamp: Double = 0
}

/// The value of `/brokers/leader`: the broker that assigns bundles and sheds load.
struct LeaderValue: Codable, Hashable, Sendable {
    var brokerId: String
    /// The leader's `http://host:port`, as in Pulsar's leader key.
    var serviceUrl: String
    /// The leader's `pulsar://host:port`, where lookups are redirected.
    var pulsarServiceUrl: String

    var address: BrokerAddress { BrokerAddress(brokerId: self.brokerId, pulsarURL: self.pulsarServiceUrl, httpURL: self.serviceUrl) }
}

/// The value of a bundle's ownership key `/namespace/<tenant>/<namespace>/<range>`, with
/// Pulsar's field names.
struct BundleOwnerValue: Codable, Hashable, Sendable {
    var nativeUrl: String
    var httpUrl: String
    /// Set while the owner unloads the bundle: lookups are answered "retry".
    var disabled: Bool
    var brokerId: String

    var address: BrokerAddress { BrokerAddress(brokerId: self.brokerId, pulsarURL: self.nativeUrl, httpURL: self.httpUrl) }

    func encoded() throws -> [UInt8] { Array(try JSONEncoder().encode(self)) }

    static func decoded(_ bytes: [UInt8]) throws -> BundleOwnerValue {
        try JSONDecoder().decode(BundleOwnerValue.self, from: Data(bytes))
    }
}

/// One broker's last load report: the bundles it owns and their traffic.
///
/// Bundles are keyed `tenant/namespace/0x…_0x…` (the namespace and the bundle's range
/// name); a broker that owns nothing reports no bundles.
struct BrokerLoad: Hashable, Sendable {
    /// The broker's identity, as brokers name each other (for example its advertised
    /// `host:port`).
    var broker: String
    var bundles: [String: BundleLoad]

    init(broker: String, bundles: [String: BundleLoad] = [:]) {
        self.broker = broker
        self.bundles = bundles
    }
}

/// The traffic of one bundle as its owner last reported it, under the names of Pulsar's
/// load reports.
///
/// Rates are messages per second, throughputs bytes per second, both averaged by the
/// reporting broker; a value built with no arguments is an idle, empty bundle.
struct BundleLoad: Hashable, Sendable, Codable {
    var msgRateIn: Double
    var msgRateOut: Double
    var msgThroughputIn: Double
    var msgThroughputOut: Double
    /// How many topics of the bundle the broker has loaded.
    var topics: Int

    init(msgRateIn: Double = 0, msgRateOut: Double = 0, msgThroughputIn: Double = 0, msgThroughputOut: Double = 0, topics: Int = 0) {
        self.msgRateIn = msgRateIn
        self.msgRateOut = msgRateOut
        self.msgThroughputIn = msgThroughputIn
        self.msgThroughputOut = msgThroughputOut
        self.topics = topics
    }

    /// Messages per second in both directions, what placement weighs bundles by.
    var messageRate: Double { self.msgRateIn + self.msgRateOut }
}

import ClusterTesting
import Foundation
import Testing

extension MultiBrokerTests {
    /// An operator splits a busy topic's bundle: its owner keeps both halves, and the
    /// topic goes on in the same ledger (it is not even reloaded).
    @Test(arguments: FleetMetadata.allCases)
    func splittingABundleKeepsItsTopicsServed(metadata: FleetMetadata) async throws {
        let fleet = try await BrokerFleet.start(label: "fleet-split", metadata: metadata, brokers: 2, arguments: Self.arguments)
        defer { fleet.stop() }
        let producer = try fleet.background("produce_with_ids.py", [fleet.serviceURL, "halved"], log: "producer")
        let consumer = try fleet.background("keep_consuming.py", [fleet.serviceURL, "halved"], log: "consumer")
        defer {
            producer.stop()
            consumer.stop()
        }
        try await Self.waitForReceipts(producer, atLeast: 300)
        let owner = try await fleet.owner(of: "halved", asking: 0)
        let bundle = try await fleet.get(0, "/lookup/v2/topic/persistent/public/default/halved/bundle").body
        #expect(try await fleet.request("PUT", 0, "/admin/v2/namespaces/public/default/0x00000000_0x00000001/split").status == 412)
        let before = Self.receipts(producer).count
        // Asked of either broker: the other redirects to the owner.
        let split = try await fleet.request("PUT", 1 - owner, "/admin/v2/namespaces/public/default/\(bundle)/split")
        #expect(split.status == 204, "\(split)")
        let layout = try await fleet.get(1 - owner, "/admin/v2/namespaces/public/default/bundles").body
        #expect(layout.contains(#""numBundles":5"#), "\(layout)")
        let half = try await fleet.get(1 - owner, "/lookup/v2/topic/persistent/public/default/halved/bundle").body
        #expect(half != bundle && half.hasPrefix(String(bundle.prefix(10))) || half.hasSuffix(String(bundle.suffix(10))), "\(half) is not a half of \(bundle)")
        let owned = try await fleet.ownedBundles(owner)
        #expect(owned.contains("public/default/\(half)") && !owned.contains("public/default/\(bundle)"), "\(owned)")
        #expect(try await fleet.owner(of: "halved", asking: 1 - owner) == owner)
        try await Self.waitForReceipts(producer, atLeast: before + 300)
        let receipts = Self.receipts(producer)
        #expect(receipts[before + 299].ledger == receipts[before - 1].ledger, "the topic was reloaded by the split")
        // A split half unloaded with the split goes back to being placed.
        let other = try await fleet.request("PUT", owner, "/admin/v2/namespaces/public/default/\(half)/split?unload=true")
        #expect(other.status == 204, "\(other)")
        #expect(try await fleet.get(0, "/admin/v2/namespaces/public/default/bundles").body.contains(#""numBundles":6"#))
        try await Self.waitForReceipts(producer, atLeast: before + 600)
        try await Self.finish(fleet: fleet, producer: producer, consumer: consumer)
    }

    /// The leader splits a bundle with too many topics until none has, and the halves
    /// spread over the brokers; nothing published is lost meanwhile.
    @Test func theLeaderSplitsABundleWithTooManyTopics() async throws {
        let arguments = [
            "--session-ttl-seconds", "2", "--load-report-interval-seconds", "1", "--load-shedding-interval-seconds", "1", "--bundle-split-max-topics", "2",
        ]
        let fleet = try await BrokerFleet.start(label: "fleet-autosplit", metadata: .etcd, brokers: 2, arguments: arguments)
        defer { fleet.stop() }
        let created = try await fleet.request("PUT", 0, "/admin/v2/namespaces/public/hot", body: #"{"bundles":{"numBundles":1}}"#)
        #expect(created.status == 204, "\(created)")
        let topics = (0..<8).map { "persistent://public/hot/t-\($0)" }
        let producer = try fleet.background("produce_many.py", [fleet.serviceURL, topics.joined(separator: ","), "20"], log: "producer")
        let consumer = try fleet.background("consume_many.py", [fleet.serviceURL, topics.joined(separator: ",")], log: "consumer")
        defer {
            producer.stop()
            consumer.stop()
        }
        let started = ContinuousClock.now
        var layout = ""
        while ContinuousClock.now - started < .seconds(60) {
            layout = try await fleet.get(1, "/admin/v2/namespaces/public/hot/bundles").body
            let count = (try JSONSerialization.jsonObject(with: Data(layout.utf8)) as? [String: Any])?["numBundles"] as? Int ?? 0
            if count >= 4 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        let count = (try JSONSerialization.jsonObject(with: Data(layout.utf8)) as? [String: Any])?["numBundles"] as? Int ?? 0
        #expect(count >= 4, "\(layout)")
        print("the leader split public/hot into \(layout) within \(ContinuousClock.now - started)")
        // Shedding then spreads the halves.
        var owned: [Set<String>] = []
        while ContinuousClock.now - started < .seconds(60) {
            owned = try await [fleet.ownedBundles(0), fleet.ownedBundles(1)].map { $0.filter { $0.hasPrefix("public/hot/") } }
            if owned.allSatisfy({ !$0.isEmpty }) { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(owned.allSatisfy { !$0.isEmpty }, "\(owned)")
        let names = topics.map { String($0.split(separator: "/").last!) }
        let counts = Self.receiptCounts(producer)
        try await Self.waitForEach(names, producer, receipts: (counts.values.max() ?? 0) + 40)
        try await Self.finish(names, fleet: fleet, producer: producer, consumer: consumer)
    }
}

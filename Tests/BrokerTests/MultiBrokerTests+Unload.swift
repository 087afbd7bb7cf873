import ClusterTesting
import Logging
import Metadata
import Foundation
import Testing

extension MultiBrokerTests {
    @Test(arguments: FleetMetadata.allCases)
    func unloadingABundleMovesItsTopicsWithNothingCopied(metadata: FleetMetadata) async throws {
        let fleet = try await BrokerFleet.start(label: "fleet-unload", metadata: metadata, brokers: 3, arguments: Self.arguments)
        defer { fleet.stop() }
        let producer = try fleet.background("produce_with_ids.py", [fleet.serviceURL, "moving", "0", "1024"], log: "producer")
        let consumer = try fleet.background("keep_consuming.py", [fleet.serviceURL, "moving"], log: "consumer")
        defer {
            producer.stop()
            consumer.stop()
        }
        try await Self.waitForReceipts(producer, atLeast: 2000)
        let owner = try await fleet.owner(of: "moving", asking: 0)
        let destination = (owner + 1) % 3
        let bundle = try await fleet.get(2, "/lookup/v2/topic/persistent/public/default/moving/bundle")
        #expect(bundle.status == 200 && bundle.body.hasPrefix("0x"), "\(bundle)")
        let bytesBefore = try await fleet.bookies.bytesWritten()
        let receiptsBefore = Self.receipts(producer).count
        // Asked of a broker that is neither the owner nor (perhaps) the leader: it redirects.
        let unload = try await fleet.request(
            "PUT", (owner + 2) % 3, "/admin/v2/namespaces/public/default/\(bundle.body)/unload?destinationBroker=\(fleet.brokerID(destination))"
        )
        #expect(unload.status == 204, "\(unload)")
        let deadline = ContinuousClock.now + .seconds(20)
        while try await fleet.owner(of: "moving", asking: owner) != destination, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await fleet.owner(of: "moving", asking: owner) == destination)
        try await Self.waitForReceipts(producer, atLeast: receiptsBefore + 1000)
        let receiptsAfter = Self.receipts(producer).count
        let bytesAfter = try await fleet.bookies.bytesWritten()
        // Two copies (E = Qw = 2) of each entry published meanwhile, with room for entry
        // headers and for sends in flight at the readings; a copy of the topic's earlier
        // data would be at least 2 × 2000 KiB more.
        let published = receiptsAfter - receiptsBefore + 200
        #expect(bytesAfter - bytesBefore <= published * (1024 + 256) * 2 + (512 << 10), "bookies stored \(bytesAfter - bytesBefore) bytes for \(published) messages")
        let log = try fleet.process(destination).map { try String(contentsOfFile: $0.logPath, encoding: .utf8) } ?? ""
        #expect(!log.contains("recovered the last ledger"), "the new owner had to recover the ledger the old one unloaded")
        #expect(log.contains("owning bundle"))
        print("publish pause around the unload: \(Self.longestPause(producer, from: receiptsBefore - 100, to: receiptsAfter)) s")

        // A whole namespace unloads too, and is served again.
        let namespace = try await fleet.request("PUT", owner, "/admin/v2/namespaces/public/default/unload")
        #expect(namespace.status == 204, "\(namespace)")
        try await Self.waitForReceipts(producer, atLeast: receiptsAfter + 500)
        try await Self.finish(fleet: fleet, producer: producer, consumer: consumer)
    }

    @Test(arguments: FleetMetadata.allCases)
    func clusterRoutesAnswerLikePulsars(metadata: FleetMetadata) async throws {
        let fleet = try await BrokerFleet.start(label: "fleet-routes", metadata: metadata, brokers: 2, arguments: Self.arguments)
        defer { fleet.stop() }
        let ids = [fleet.brokerID(0), fleet.brokerID(1)].sorted()
        for index in 0..<2 {
            let brokers = try await fleet.get(index, "/admin/v2/brokers/standalone")
            let listed = try JSONSerialization.jsonObject(with: Data(brokers.body.utf8)) as? [String]
            #expect(brokers.status == 200 && listed == ids, "\(brokers)")
            let leader = try await fleet.get(index, "/admin/v2/brokers/leaderBroker")
            let object = try JSONSerialization.jsonObject(with: Data(leader.body.utf8)) as? [String: String]
            #expect(leader.status == 200 && ids.contains(object?["brokerId"] ?? "") && object?["serviceUrl"]?.hasPrefix("http://") == true, "\(leader)")
            #expect(try await fleet.get(index, "/admin/v2/brokers/nowhere").status == 404)
        }
        let bundles = try await fleet.get(0, "/admin/v2/namespaces/public/default/bundles")
        #expect(bundles.body == #"{"boundaries":["0x00000000","0x40000000","0x80000000","0xc0000000","0xffffffff"],"numBundles":4}"#, "\(bundles)")
        #expect(try await fleet.get(0, "/admin/v2/namespaces/public/nothing/bundles").status == 404)
        // The topic's bundle, its owner from either broker, and the owner's list of bundles
        // (asked of the other broker, which redirects).
        let bundle = try await fleet.get(1, "/lookup/v2/topic/persistent/public/default/routed/bundle").body
        let owner = try await fleet.owner(of: "routed", asking: 0)
        #expect(try await fleet.owner(of: "routed", asking: 1) == owner)
        let owned = try await fleet.get(1 - owner, "/admin/v2/brokers/standalone/\(fleet.brokerID(owner))/ownedNamespaces")
        #expect(owned.status == 200 && owned.body.contains("public/default/\(bundle)"), "\(owned)")
        // Bad requests: a range that is not a bundle, a destination that is not a broker.
        #expect(try await fleet.request("PUT", 0, "/admin/v2/namespaces/public/default/0x00000000_0x00000001/unload").status == 412)
        let nowhere = try await fleet.request("PUT", 0, "/admin/v2/namespaces/public/default/\(bundle)/unload?destinationBroker=127.0.0.1:1")
        #expect(nowhere.status == 412, "\(nowhere)")
        // Unloading the bundle frees it; the next lookup places it again.
        #expect(try await fleet.request("PUT", 1 - owner, "/admin/v2/namespaces/public/default/\(bundle)/unload").status == 204)
        #expect(try await fleet.get(owner, "/admin/v2/brokers/standalone/\(fleet.brokerID(owner))/ownedNamespaces").body == "{}")
        _ = try await fleet.owner(of: "routed", asking: 0)
    }

    /// The longest gap between consecutive receipts numbered `from..<to`, in seconds.
    static func longestPause(_ producer: ChildProcess, from: Int, to: Int) -> Double {
        let times = producer.output().split(separator: "\n").compactMap { line -> (Int, Double)? in
            let fields = line.split(separator: " ")
            guard fields.count >= 5, fields[0] == "R", let number = Int(fields[1]), let time = Double(fields[4]) else { return nil }
            return (number, time)
        }
        .filter { $0.0 >= from && $0.0 < to }
        .map(\.1)
        return zip(times, times.dropFirst()).map { $1 - $0 }.max() ?? 0
    }
}

extension MultiBrokerTests {
    /// Someone deletes the ownership key of a busy topic's bundle: its owner stops serving
    /// it at once, and its clients find it again (placed anew) with nothing lost.
    @Test(arguments: FleetMetadata.allCases)
    func aBrokerWhoseBundleKeyIsDeletedStopsServingIt(metadata: FleetMetadata) async throws {
        let fleet = try await BrokerFleet.start(label: "fleet-key", metadata: metadata, brokers: 2, arguments: Self.arguments)
        defer { fleet.stop() }
        let producer = try fleet.background("produce_with_ids.py", [fleet.serviceURL, "unkeyed"], log: "producer")
        let consumer = try fleet.background("keep_consuming.py", [fleet.serviceURL, "unkeyed"], log: "consumer")
        defer {
            producer.stop()
            consumer.stop()
        }
        try await Self.waitForReceipts(producer, atLeast: 300)
        let owner = try await fleet.owner(of: "unkeyed", asking: 0)
        let bundle = try await fleet.get(0, "/lookup/v2/topic/persistent/public/default/unkeyed/bundle").body
        let store = try await MetadataStoreURL.open(fleet.metadataURL, logger: Logger(label: "test"))
        try await store.delete(ClusterLayout.bundleOwner(tenant: "public", namespace: "default", range: bundle))
        await store.close()
        let before = Self.receipts(producer).count
        try await Self.waitForReceipts(producer, atLeast: before + 300, within: .seconds(30))
        let log = try fleet.process(owner).map { try String(contentsOfFile: $0.logPath, encoding: .utf8) } ?? ""
        #expect(log.contains("lost the ownership of a bundle: its key was deleted"))
        // The topic was closed and loaded anew: later receipts name a newer ledger.
        let receipts = Self.receipts(producer)
        #expect(receipts[before + 299].ledger > receipts[before - 1].ledger, "the topic went on in the same ledger")
        try await Self.finish(fleet: fleet, producer: producer, consumer: consumer)
    }
}

extension MultiBrokerTests {
    /// Unloads the namespace again and again while listener consumers read four busy
    /// topics: each time their bundles move (or stay) and every client reconnects, and
    /// still every receipted message is consumed.
    @Test func repeatedUnloadsLoseNothing() async throws {
        let fleet = try await BrokerFleet.start(label: "fleet-unloads", metadata: .sqlite, brokers: 2, arguments: Self.arguments)
        defer { fleet.stop() }
        let topics = (0..<4).map { "churn-\($0)" }
        let producer = try fleet.background("produce_many.py", [fleet.serviceURL, topics.joined(separator: ","), "100"], log: "producer")
        let consumer = try fleet.background("consume_many.py", [fleet.serviceURL, topics.joined(separator: ",")], log: "consumer")
        defer {
            producer.stop()
            consumer.stop()
        }
        try await Self.waitForEach(topics, producer, receipts: 50)
        for round in 0..<12 {
            let unload = try await fleet.request("PUT", round % 2, "/admin/v2/namespaces/public/default/unload")
            #expect(unload.status == 204, "\(unload)")
            try await Task.sleep(for: .milliseconds(700))
        }
        let counts = Self.receiptCounts(producer)
        try await Self.waitForEach(topics, producer, receipts: (counts.values.max() ?? 0) + 100)
        try await Self.finish(topics, fleet: fleet, producer: producer, consumer: consumer)
    }
}

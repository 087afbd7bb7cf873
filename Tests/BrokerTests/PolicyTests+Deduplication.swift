import ClusterTesting
import Foundation
import Testing

extension PolicyTests {
    /// With deduplication on, a producer's sequence ids are each stored once: across a
    /// SIGKILL of the topic's owner (the other broker takes the topic over from storage)
    /// and an unload, resends of what was stored are receipted and dropped, and the broker
    /// tells a reconnecting producer its last sequence id.
    @Test(arguments: [FleetMetadata.sqlite])
    func deduplicationHoldsAcrossAKillAndAMove(metadata: FleetMetadata) async throws {
        let fleet = try await BrokerFleet.start(
            label: "dedup", metadata: metadata, brokers: 2, arguments: ["--session-ttl-seconds", "2", "--load-shedding-interval-seconds", "0"]
        )
        defer { fleet.stop() }
        #expect(try await fleet.request("POST", 0, "/admin/v2/namespaces/public/default/deduplication", body: "true").status == 204)
        let topic = "persistent://public/default/dedup"
        let producer = try fleet.background("dedup_producer.py", [fleet.serviceURL, topic, "dedup-p"], log: "producer")
        defer { producer.stop() }
        func receipted() -> [Int] { BrokerCluster.numbers(in: producer.output(), prefix: "R ") }
        func wait(for count: Int) async throws {
            let reached = try await Self.eventually(.seconds(60)) { receipted().count >= count }
            if !reached { fleet.printLogs(producer) }
            try #require(reached)
        }
        try await wait(for: 300)
        let owner = try await fleet.owner(of: "dedup", asking: 0)
        fleet.kill(owner)
        try await wait(for: receipted().count + 300)
        producer.stop()
        let sent = try #require(receipted().max())

        // A producer of the same name resending the last 100: dropped, and told where it is.
        let resend = try await fleet.python("dedup_resend.py", [fleet.serviceURL, topic, "dedup-p", "\(sent - 99)", "\(sent)", "5"])
        #expect(resend.status == 0 && resend.output.contains("OK"), "\(resend.output.suffix(2000))")
        // The broker may have stored the one send in flight when the producer stopped.
        let last = try #require(BrokerCluster.numbers(in: resend.output, prefix: "LAST ").first)
        #expect(last == sent || last == sent + 1, "last sequence id \(last) after \(sent) receipted")
        let stats = Self.json(try await fleet.get(1 - owner, "/admin/v2/persistent/public/default/dedup/stats").body)
        #expect(stats["deduplicationStatus"] as? String == "Enabled")

        // Moved again (the topic is loaded anew from storage): the same holds.
        try await fleet.start(owner)
        #expect(try await fleet.request("PUT", owner, "/admin/v2/persistent/public/default/dedup/unload").status == 204)
        let again = try await fleet.python("dedup_resend.py", [fleet.serviceURL, topic, "dedup-p", "\(sent - 49)", "\(sent + 5)", "5"])
        #expect(again.status == 0 && again.output.contains("OK"), "\(again.output.suffix(2000))")
        #expect(BrokerCluster.numbers(in: again.output, prefix: "LAST ") == [last + 5])

        let drained = try await fleet.python("drain.py", [fleet.serviceURL, topic])
        let consumed = BrokerCluster.numbers(in: drained.output, prefix: "M ")
        #expect(consumed == Array(0...(last + 10)), "\(consumed.count) messages for \(last + 11) sequence ids; duplicates: \(consumed.count - Set(consumed).count)")
    }
}

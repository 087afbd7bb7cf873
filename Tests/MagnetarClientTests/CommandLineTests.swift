import ClusterTesting
import Foundation
import Testing

/// `magnetar produce`, `consume` and `perf produce|consume` run as built, against the shared cluster.
@Suite("magnetar produce, consume and perf", .timeLimit(.minutes(3)))
struct CommandLineTests {
    @Test func produceThenConsumeAsJSONLines() async throws {
        let cluster = try await SharedCluster.get()
        let topic = uniqueTopic("cli")
        let magnetar = try BuiltProducts.path(of: "magnetar")
        let produced = try await ChildProcess.run(
            magnetar, ["produce", topic, "--url", cluster.serviceURL, "-m", "a,b,c", "-n", "2", "-k", "k1", "-p", "source=cli", "-z", "zstd"]
        )
        #expect(produced.status == 0, "\(produced.output)")
        #expect(produced.output.contains("6 messages successfully produced"))
        let consumed = try await ChildProcess.run(
            magnetar, ["consume", topic, "--url", cluster.serviceURL, "-s", "cli", "-t", "Shared", "-p", "Earliest", "-n", "6", "--json"]
        )
        #expect(consumed.status == 0, "\(consumed.output)")
        let objects = consumed.output.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(objects.compactMap { $0["payload"] as? String } == ["a", "b", "c", "a", "b", "c"])
        #expect(objects.allSatisfy { $0["key"] as? String == "k1" && ($0["properties"] as? [String: String]) == ["source": "cli"] })
    }

    @Test func badFlagsGetAClearError() async throws {
        let magnetar = try BuiltProducts.path(of: "magnetar")
        let noMessages = try await ChildProcess.run(magnetar, ["produce", "t"])
        #expect(noMessages.status != 0 && noMessages.output.contains("give messages with -m or files with -f"))
        let badURL = try await ChildProcess.run(magnetar, ["consume", "t", "-s", "x", "--url", "ftp://x"])
        #expect(badURL.status != 0 && badURL.output.contains("not a pulsar:// or http:// URL"), "\(badURL.output)")
        let badType = try await ChildProcess.run(magnetar, ["consume", "t", "-s", "x", "-t", "Sideways"])
        #expect(badType.status != 0)
    }

    @Test func perfProduceAndConsumeReportEverySecondAndEndWithJSON() async throws {
        let cluster = try await SharedCluster.get()
        let topic = uniqueTopic("perf")
        let magnetar = try BuiltProducts.path(of: "magnetar")
        let consume = try ChildProcess(
            magnetar, ["perf", "consume", topic, "--url", cluster.serviceURL, "--subscription-position", "Earliest", "--test-duration", "4", "--json"],
            logPath: cluster.directory.file("perf-consume-\(UInt32.random(in: 0...UInt32.max)).log")
        )
        let produced = try await ChildProcess.run(
            magnetar, ["perf", "produce", topic, "--url", cluster.serviceURL, "-r", "2000", "-s", "256", "-z", "lz4", "--test-duration", "2.5", "--json"]
        )
        #expect(produced.status == 0, "\(produced.output)")
        #expect(produced.output.split(separator: "\n").filter { $0.hasPrefix("produced ") && $0.contains("msg/s") }.count >= 2)
        let report = try #require(Self.report(produced.output))
        let rate = try #require(report["msgRate"] as? Double)
        #expect(rate > 1000 && rate < 2600, "a 2000 msg/s target gave \(rate)")
        #expect((report["latencyMs"] as? [String: Double])?["p99"] != nil)

        #expect(try await consume.waitForExit(timeout: .seconds(20)) == 0, "\(consume.output())")
        let consumed = try #require(Self.report(consume.output()))
        #expect((consumed["msgRate"] as? Double ?? 0) > 0, "\(consume.output())")
    }

    /// With one message pending at most, a send almost always waits for room when the
    /// run ends; the run still ends cleanly with its report. (The per-second reporter
    /// ending was counted as a producer finishing, and the last one then had its wait
    /// cancelled: "cancelled while waiting for room in the pending queue", exit status 1.)
    @Test func perfProduceEndsCleanlyWhileASendWaitsForRoom() async throws {
        let cluster = try await SharedCluster.get()
        let magnetar = try BuiltProducts.path(of: "magnetar")
        for run in 0..<3 {
            let produced = try await ChildProcess.run(
                magnetar, ["perf", "produce", uniqueTopic("perf-full"), "--url", cluster.serviceURL, "-o", "1", "-b", "0", "-s", "2000000", "--test-duration", "1", "--json"]
            )
            #expect(produced.status == 0, "run \(run): \(produced.output.suffix(600))")
            #expect(Self.report(produced.output)?["msgRate"] != nil, "run \(run)")
        }
    }

    static func report(_ output: String) -> [String: Any]? {
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    }
}

import ClusterTesting
import Foundation
import Histogram
import Logging
import Metadata
import Perf
import Testing

@Suite struct PerfTests {
    @Test func codecBenchmarkMeasuresEveryOperationOnEverySize() throws {
        let results = try CodecBenchmark(sizes: [1024, 1 << 20], timePerCase: .milliseconds(20)).run()
        let operations = ["memcpy", "crc32c", "lz4-compress", "lz4-decompress", "zstd-compress", "zstd-decompress"]
        #expect(results.map(\.operation) == operations + operations)
        #expect(results.map(\.size) == Array(repeating: 1024, count: 6) + Array(repeating: 1 << 20, count: 6))
        for result in results {
            #expect(result.mbPerSec > 0, "\(result.operation) \(result.size)")
        }
        for result in results where result.operation.hasSuffix("-compress") {
            let ratio = try #require(result.ratio)
            #expect(ratio > 0 && ratio < 1, "the sample data compresses")
        }
    }

    @Test func metadataBenchmarkCountsPutsAndSeesEveryOneInTheWatch() async throws {
        let store = MemoryMetadataStore()
        let report = try await MetadataBenchmark(duration: .milliseconds(300), inFlight: 4).run(store)
        #expect(report.msgRate > 0)
        #expect(report.latencyMs.p50 <= report.latencyMs.p99 && report.latencyMs.p99 <= report.latencyMs.max)
        #expect(report.description?.contains(" 0 not seen by the watch") == true, "\(report.description ?? "")")
        #expect(try await store.children(of: "/perf") == [], "the benchmark removes its keys")
        await store.close()
    }

    @Test func ledgerBenchmarkWritesToThreeBookiesWithoutFailures() async throws {
        let directory = try TemporaryDirectory(label: "perf-ledger")
        defer { directory.remove() }
        let bookies = try await BookieCluster.start(count: 3, directory: directory, journalSync: false)
        defer { bookies.stopAll() }
        let store = try await MetadataStoreURL.open(bookies.metadataURL, logger: Logger(label: "perf-test"))
        let report = try await LedgerBenchmark(
            ensembleSize: 3, writeQuorum: 3, ackQuorum: 2, entrySize: 1024, inFlight: 64, ledgers: 2, duration: .seconds(1)
        ).run(store)
        #expect(report.msgRate > 0)
        #expect(report.failures == 0, "\(report.description ?? "")")
        // Ledgers are the numeric children (autorecovery keeps its keys below `underreplication`).
        #expect(try await store.children(of: ClusterLayout.ledgers).filter { Int64($0) != nil } == [], "the benchmark deletes its ledgers")
        await store.close()
    }

    @Test func jsonLineHasTheSharedShape() throws {
        let report = PerfReport(
            msgRate: 1000,
            mbPerSec: 1,
            latencyMs: .init(nanoseconds: {
                var histogram = makeLatencyHistogram()
                for value in [1_000_000, 2_000_000, 3_000_000] as [UInt64] { _ = histogram.record(value) }
                return histogram
            }())
        )
        let line = report.jsonLine()
        #expect(!line.contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["msgRate"] as? Double == 1000)
        #expect(object["mbPerSec"] as? Double == 1)
        let latency = try #require(object["latencyMs"] as? [String: Double])
        #expect(Set(latency.keys) == ["p50", "p99", "p999", "max"])
        #expect(abs(latency["p50"]! - 2) < 0.01)
        #expect(abs(latency["max"]! - 3) < 0.01)
    }
}

import ArgumentParser
import Foundation
import Logging
import Metadata
import Perf

/// `magnetar perf …`: load generators and micro-benchmarks.
struct Perf: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure throughput and latency.",
        subcommands: [Codec.self, MetadataPerf.self, BookiePerf.self, LedgerPerf.self, PerfProduce.self, PerfConsume.self]
    )

    struct Codec: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "CRC32C, LZ4 and ZSTD speed on 1 KiB and 1 MiB buffers, beside memcpy."
        )
        @Option(help: "Milliseconds spent on each measurement.") var msPerCase = 500
        @Flag(help: "Print one JSON object per measurement.") var json = false

        func run() async throws {
            let results = try CodecBenchmark(timePerCase: .milliseconds(self.msPerCase)).run()
            if self.json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                for result in results { print(String(decoding: try encoder.encode(result), as: UTF8.self)) }
                return
            }
            print("operation            size      MB/s   of memcpy  ratio")
            for result in results {
                let size = result.size >= 1 << 20 ? "\(result.size >> 20) MiB" : "\(result.size >> 10) KiB"
                let ratio = result.ratio.map { String(format: "%.3f", $0) } ?? ""
                let name = result.operation.padding(toLength: 18, withPad: " ", startingAt: 0)
                let sizeColumn = String(repeating: " ", count: max(0, 7 - size.count)) + size
                print(name + " " + sizeColumn + String(format: " %9.0f %10.3f  ", result.mbPerSec, result.ofMemcpy) + ratio)
            }
        }
    }

    struct MetadataPerf: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "metadata",
            abstract: "Compare-and-set put throughput and latency, and watch delivery latency."
        )
        @OptionGroup var metadata: MetadataOptions
        @Option(help: "Concurrent writers, each on its own key.") var inFlight = 8
        @Option(help: "Seconds to run.") var duration = 10.0
        @Option(help: "Value size in bytes.") var size = 100
        @Flag(help: "End with one JSON summary line.") var json = false

        func run() async throws {
            let store = try await MetadataCommand.open(self.metadata)
            let benchmark = MetadataBenchmark(duration: .milliseconds(Int(self.duration * 1000)), inFlight: self.inFlight, valueSize: self.size)
            let report = try await benchmark.run(store)
            await store.close()
            print(report.description ?? "")
            print(String(format: "puts/s %.0f  p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  max %.2f ms", report.msgRate, report.latencyMs.p50, report.latencyMs.p99, report.latencyMs.p999, report.latencyMs.max))
            if let watch = report.watchLatencyMs {
                print(String(format: "watch delivery  p50 %.2f ms  p99 %.2f ms  max %.2f ms", watch.p50, watch.p99, watch.max))
            }
            if self.json { print(report.jsonLine()) }
        }
    }

    struct BookiePerf: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bookie",
            abstract: "Add throughput and latency of one bookie."
        )
        @Option(help: "The bookie, HOST:PORT.") var bookie: String
        @Option(help: "Entry payload size in bytes.") var size = 1024
        @Option(help: "Adds outstanding at once.") var inFlight = 64
        @Option(help: "Seconds to run.") var duration = 10.0
        @Option(help: "Ledgers to spread the adds over.") var ledgers = 1
        @Option(help: "The bookie's metadata store, where the ledgers are registered (a bookie takes adds only for ledgers it has).")
        var metadataUrl: String
        @Flag(help: "End with one JSON summary line.") var json = false

        func run() async throws {
            guard let colon = self.bookie.lastIndex(of: ":"), let port = Int(self.bookie[self.bookie.index(after: colon)...]) else {
                throw ValidationError("--bookie must be HOST:PORT")
            }
            guard self.size >= 0, self.inFlight >= 1, self.ledgers >= 1, self.duration > 0 else {
                throw ValidationError("--size, --in-flight, --ledgers and --duration must be positive")
            }
            let report = try await BookieBenchmark(
                host: String(self.bookie[..<colon]), port: port, entrySize: self.size, inFlight: self.inFlight,
                ledgers: self.ledgers, duration: .milliseconds(Int(self.duration * 1000)), metadataURL: self.metadataUrl
            ).run()
            print(report.description ?? "")
            print(
                String(
                    format: "adds/s %.0f  MB/s %.1f  p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  max %.2f ms",
                    report.msgRate, report.mbPerSec, report.latencyMs.p50, report.latencyMs.p99, report.latencyMs.p999, report.latencyMs.max
                )
            )
            if self.json { print(report.jsonLine()) }
        }
    }

    struct LedgerPerf: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ledger",
            abstract: "Add throughput and latency through the ledger client, replicated over the registered bookies."
        )
        @OptionGroup var metadata: MetadataOptions
        @Option(help: "Bookies each ledger is spread over.") var ensemble = 3
        @Option(help: "Bookies each entry is written to.") var writeQuorum = 3
        @Option(help: "Bookies that must have an entry before it is confirmed.") var ackQuorum = 2
        @Option(help: "Entry payload size in bytes.") var size = 1024
        @Option(help: "Adds outstanding at once, over all ledgers.") var inFlight = 64
        @Option(help: "Seconds to run.") var duration = 10.0
        @Option(help: "Ledgers to spread the adds over.") var ledgers = 1
        @Flag(help: "End with one JSON summary line.") var json = false
        @Flag(help: "Close and keep the ledgers at the end instead of deleting them.") var keep = false

        func run() async throws {
            guard self.size >= 0, self.inFlight >= 1, self.ledgers >= 1, self.duration > 0 else {
                throw ValidationError("--size, --in-flight, --ledgers and --duration must be positive")
            }
            let store = try await MetadataCommand.open(self.metadata)
            let report: PerfReport
            do {
                var benchmark = LedgerBenchmark(
                    ensembleSize: self.ensemble, writeQuorum: self.writeQuorum, ackQuorum: self.ackQuorum, entrySize: self.size,
                    inFlight: self.inFlight, ledgers: self.ledgers, duration: .milliseconds(Int(self.duration * 1000))
                )
                benchmark.keepLedgers = self.keep
                report = try await benchmark.run(store)
            } catch {
                await store.close()
                throw error
            }
            await store.close()
            print(report.description ?? "")
            print(
                String(
                    format: "adds/s %.0f  MB/s %.1f  p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  max %.2f ms  failed %d",
                    report.msgRate, report.mbPerSec, report.latencyMs.p50, report.latencyMs.p99, report.latencyMs.p999, report.latencyMs.max,
                    report.failures ?? 0
                )
            )
            if self.json { print(report.jsonLine()) }
            if let failures = report.failures, failures > 0 { throw ExitCode.failure }
        }
    }
}

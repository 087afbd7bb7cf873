import ClusterTesting
import Foundation
import Ledger
import Logging
import Metadata
import NIOCore
import Testing

/// A bookie whose metadata session ended while it was paused opens a new one and
/// registers again, so brokers place new ledgers on it.
@Suite("Bookie sessions", .serialized, .timeLimit(.minutes(3)))
struct BookieSessionTests {
    @Test func aBookiePausedPastItsSessionRegistersAgain() async throws {
        let directory = try TemporaryDirectory(label: "bookie-session")
        defer { directory.remove() }
        let bookies = try await BookieCluster.start(count: 3, directory: directory, extraArguments: ["--session-ttl-seconds", "2"])
        defer { bookies.stopAll() }
        var logger = Logger(label: "bookie-session")
        logger.logLevel = .error
        let metadata = try await MetadataStoreURL.open(bookies.metadataURL, logger: logger)
        let key = ClusterLayout.availableBookie(bookies.ids[2])
        #expect(try await metadata.get(key) != nil)

        bookies.pause(2)
        let gone = ContinuousClock.now + .seconds(15)
        while try await metadata.get(key) != nil, ContinuousClock.now < gone {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await metadata.get(key) == nil, "the paused bookie's registration expired")
        try await Task.sleep(for: .seconds(1))
        bookies.resume(2)

        let resumed = ContinuousClock.now
        while try await metadata.get(key) == nil, ContinuousClock.now - resumed < .seconds(10) {
            try await Task.sleep(for: .milliseconds(100))
        }
        let waited = ContinuousClock.now - resumed
        #expect(try await metadata.get(key) != nil, "registered again \(waited) after resuming")
        #expect(waited < .seconds(5), "registered again within a few seconds: \(waited)")

        // Placement over all three bookies needs it.
        let client = LedgerClient(metadata: metadata, configuration: .init(requestTimeout: .seconds(2)))
        let writer = try await client.createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 3)
        for entry in 0..<10 { #expect(try await writer.append(LedgerCluster.payload(Int64(entry))) == Int64(entry)) }
        let closed = try await writer.close()
        #expect(closed.ensembles.last?.bookies.contains(bookies.ids[2]) == true)
        await client.close()
        await metadata.close()
    }
}

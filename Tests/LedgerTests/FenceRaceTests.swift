import ClusterTesting
import Foundation
import Ledger
import Logging
import Metadata
import NIOCore
import Synchronization
import Testing

/// Recovery racing a busy writer on bookies whose journal syncs are slow: a fence must
/// stop every add that was not yet journaled, or the old writer confirms entries past the
/// end the recoverer closed the ledger at.
@Suite("Fencing races", .serialized, .timeLimit(.minutes(5)))
struct FenceRaceTests {
    /// Rounds of the race with real processes; the in-process fence-race tests run it
    /// deterministically.
    static let rounds = 40

    @Test func noEntryConfirmedByTheOldWriterLiesPastTheClosedEnd() async throws {
        let directory = try TemporaryDirectory(label: "fence-race")
        defer { directory.remove() }
        let bookies = try await BookieCluster.start(
            count: 3, directory: directory, extraArguments: ["--testing-journal-sync-delay-ms", "5"]
        )
        defer { bookies.stopAll() }
        var logger = Logger(label: "fence-race")
        logger.logLevel = .error
        let metadata = try await MetadataStoreURL.open(bookies.metadataURL, logger: logger)
        let configuration = LedgerClient.Configuration(requestTimeout: .seconds(5), speculativeReadTimeout: .milliseconds(500))
        let writerClient = LedgerClient(metadata: metadata, configuration: configuration)
        let recoveryClient = LedgerClient(metadata: metadata, configuration: configuration)
        var violations = 0
        var confirmedInAll = 0
        for round in 0..<Self.rounds {
            let writer = try await writerClient.createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 2)
            let writing = Task { await Self.appendUntilRefused(writer, inFlight: 256) }
            try await Task.sleep(for: .milliseconds(Int.random(in: 10...40)))
            let recovered = try await recoveryClient.recoverLedger(writer.ledgerID)
            let results = await writing.value
            let confirmed = results.compactMap { try? $0.get() }
            confirmedInAll += confirmed.count
            if let highest = confirmed.max(), highest > recovered.lastAddConfirmed {
                violations += 1
                Issue.record("round \(round): ledger \(writer.ledgerID) was closed at \(recovered.lastAddConfirmed), but the old writer confirmed up to \(highest)")
            }
        }
        #expect(violations == 0, "\(violations) of \(Self.rounds) rounds confirmed entries past the closed end")
        #expect(confirmedInAll > 0, "the writers got entries confirmed before they were fenced")
        await writerClient.close()
        await recoveryClient.close()
        await metadata.close()
    }

    /// Appends with up to `inFlight` outstanding until an add fails; returns every result.
    static func appendUntilRefused(_ writer: LedgerWriter, inFlight: Int) async -> [Result<Int64, LedgerError>] {
        let results = Mutex<[Result<Int64, LedgerError>]>([])
        let refused = Flag()
        let window = AsyncWindow(inFlight)
        var entry: Int64 = 0
        while !refused.isSet {
            await window.acquire()
            writer.append(LedgerCluster.payload(entry)) { result in
                results.withLock { $0.append(result) }
                if case .failure = result { _ = refused.set() }
                window.release()
            }
            entry += 1
        }
        await window.drain()
        return results.withLock { $0 }
    }
}

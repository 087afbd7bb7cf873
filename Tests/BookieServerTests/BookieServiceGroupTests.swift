import BookieServer
import BookieWire
import ClusterTesting
import Foundation
import Logging
import Metadata
import NIOCore
import ServiceLifecycle
import Testing

/// The bookie's service group when one of its services fails: the rest shut down in
/// order (the registration goes, the port closes, the store is flushed and closed) and
/// the run ends with the failure instead of hanging; what was acknowledged is there at
/// the next start.
@Suite("Bookie service group", .serialized, .timeLimit(.minutes(1)))
struct BookieServiceGroupTests {
    struct Failure: Error {}

    /// Fails once `trigger` is set.
    struct FailingService: Service {
        let trigger: Flag

        func run() async throws {
            _ = await self.trigger.wait(for: .seconds(30))
            throw Failure()
        }
    }

    @Test func aFailingServiceStopsTheWholeBookieInOrder() async throws {
        let directory = try TemporaryDirectory(label: "service-group")
        defer { directory.remove() }
        let url = "sqlite:\(directory.file("metadata.db"))"
        var logger = Logger(label: "service-group")
        logger.logLevel = .error
        let configuration = BookieService.Configuration(
            id: "b1", host: "127.0.0.1", port: 0, httpPort: 0, journalDirectory: directory.file("journal"),
            ledgerDirectories: [directory.file("ledgers")], metadataURL: url, flushInterval: .milliseconds(50)
        )
        let metadata = try await MetadataStoreURL.open(url, logger: logger)
        try await DirectLedgers.register([1], key: [], in: metadata)
        let trigger = Flag()
        let running = Task {
            try await BookieService(configuration: configuration, logger: logger).run { group in
                group.services.append(
                    .init(
                        service: FailingService(trigger: trigger), successTerminationBehavior: .gracefullyShutdownGroup,
                        failureTerminationBehavior: .gracefullyShutdownGroup
                    )
                )
            }
        }
        let port = try await JournalFailureTests.waitForRegistration(metadata, state: "writable")
        let added = try await PipelinedConnection(port: port).exchange(
            [BookieRequest(requestID: 1, .add(entry: BookieServerTests.entry(1, 0), ledgerKey: [], recovery: false))]
        )
        #expect(added.first?.status == .ok)

        let failedAt = ContinuousClock.now
        trigger.set()
        let outcome = await running.result
        let took = ContinuousClock.now - failedAt
        #expect(throws: Failure.self, "the run ends with the service's failure") { try outcome.get() }
        #expect(took < .seconds(5), "the bookie stopped within \(took)")
        #expect(try await metadata.get("/bookies/available/b1") == nil, "the registration is gone")
        await #expect(throws: (any Error).self, "the port is closed") { _ = try await PipelinedConnection(port: port) }

        // The store was closed cleanly: it opens again with the entry.
        let again = Task { try await BookieService(configuration: configuration, logger: logger).run() }
        let secondPort = try await JournalFailureTests.waitForRegistration(metadata, state: "writable")
        let read = try await PipelinedConnection(port: secondPort).exchange(
            [BookieRequest(requestID: 2, .read(ReadRequest(ledgerID: 1, firstEntryID: 0)))]
        )
        guard case .read(_, _, _, let entries) = read.first?.body else {
            Issue.record("no read answer: \(read)")
            again.cancel()
            _ = try? await again.value
            await metadata.close()
            return
        }
        #expect(entries == [BookieServerTests.entry(1, 0)])
        again.cancel()
        try await again.value
        await metadata.close()
    }
}

import BookieServer
import BookieWire
import ClusterTesting
import Foundation
import Logging
import Metadata
import NIOCore
import Testing

@Suite("Bookie garbage collection", .timeLimit(.minutes(1)))
struct GarbageCollectionServiceTests {
    /// Two ledgers with metadata and one written without (as benchmarks do); deleting the
    /// first's metadata removes it from the bookie, and the others stay.
    @Test func aLedgerWhoseMetadataIsDeletedIsCollected() async throws {
        let directory = try TemporaryDirectory(label: "gc-service")
        defer { directory.remove() }
        let url = "sqlite:\(directory.file("metadata.db"))"
        var logger = Logger(label: "gc-test")
        logger.logLevel = .error
        let metadata = try await MetadataStoreURL.open(url, logger: logger)
        var ledgers: [UInt64] = []
        for _ in 0..<2 {
            let id = UInt64(try await metadata.nextID(ClusterLayout.ledgerIDCounter))
            try await DirectLedgers.register([id], key: [], in: metadata)
            ledgers.append(id)
        }
        let service = BookieService(
            configuration: .init(
                id: "gc", host: "127.0.0.1", port: 0,
                journalDirectory: directory.file("journal"), ledgerDirectories: [directory.file("ledgers")],
                metadataURL: url, flushInterval: .milliseconds(50), garbageCollectionInterval: .milliseconds(200)
            ),
            logger: logger
        )
        let running = Task { try await service.run() }
        defer { running.cancel() }
        let port = try await Self.port(of: "gc", in: metadata)
        var adds: [BookieRequest] = []
        for ledger in ledgers {
            for entry: UInt64 in 0..<10 {
                adds.append(BookieRequest(requestID: UInt64(adds.count), .add(entry: BookieServerTests.entry(ledger, entry), ledgerKey: [], recovery: false)))
            }
        }
        #expect(try await PipelinedConnection(port: port).exchange(adds).allSatisfy { $0.status == .ok })

        try await metadata.delete(ClusterLayout.ledger(ledgers[0]))
        let deadline = ContinuousClock.now + .seconds(20)
        var status = BookieStatus.ok
        while status != .noLedger, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            let answer = try await PipelinedConnection(port: port).exchange([BookieRequest(requestID: 0, .read(ReadRequest(ledgerID: ledgers[0], firstEntryID: 0)))])
            status = answer.first?.status ?? .ioError
        }
        #expect(status == .noLedger, "the deleted ledger was collected")
        try await Task.sleep(for: .milliseconds(500))  // More collections pass.
        let kept = try await PipelinedConnection(port: port).exchange([
            BookieRequest(requestID: 1, .read(ReadRequest(ledgerID: ledgers[1], firstEntryID: 9)))
        ])
        #expect(kept.count == 1 && kept.allSatisfy { $0.status == .ok }, "\(kept)")
        running.cancel()
        try await running.value
        await metadata.close()
    }

    /// The port a bookie registered under its id.
    static func port(of id: String, in metadata: any MetadataStore) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let registration = try await metadata.get(ClusterLayout.availableBookie(id)),
                let object = try JSONSerialization.jsonObject(with: Data(registration.value)) as? [String: Any],
                let address = object["address"] as? String, let port = Int(address.split(separator: ":").last ?? "")
            {
                return port
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestHarnessError("bookie \(id) did not register")
    }
}

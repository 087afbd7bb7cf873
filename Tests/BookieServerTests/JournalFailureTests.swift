import BookieServer
import BookieStorage
import BookieWire
import ClusterTesting
import Foundation
import Logging
import Metadata
import NIOCore
import Testing

/// A bookie whose journal fails for want of space turns read-only in its registration,
/// whatever the disk usage reading says, and turns writable again once the journal has
/// room. The journal lives on a small tmpfs the test mounts (it needs root, as CI has).
@Suite("Journal failure", .serialized, .timeLimit(.minutes(2)))
struct JournalFailureTests {
    @Test func aJournalWithoutRoomMakesTheBookieReadOnlyUntilThereIsRoom() async throws {
        let directory = try TemporaryDirectory(label: "journal-failure")
        defer { directory.remove() }
        let journal = directory.file("journal")
        let disk = try await SmallDisk.mount(at: journal, megabytes: 72)
        let url = "sqlite:\(directory.file("metadata.db"))"
        var logger = Logger(label: "journal-failure")
        logger.logLevel = .error
        // The usage reading stays low: only the journal's failure can make it read-only.
        let service = BookieService(
            configuration: .init(
                id: "b1", host: "127.0.0.1", port: 0, journalDirectory: journal, ledgerDirectories: [directory.file("ledgers")],
                metadataURL: url, flushInterval: .milliseconds(50), diskUsage: { _ in 0.1 }
            ),
            logger: logger
        )
        let metadata = try await MetadataStoreURL.open(url, logger: logger)
        try await DirectLedgers.register([1, 2], key: [], in: metadata)
        let running = Task { try await service.run() }
        do {
            let port = try await Self.waitForRegistration(metadata, state: "writable")
            // Fill the disk, then write past the journal file's preallocated 64 MiB.
            try await disk.fill(leaving: 0)
            let connection = try await PipelinedConnection(port: port)
            let big = ByteBuffer(repeating: 7, count: 1 << 20)
            let requests = (0..<80).map { entry in
                var bytes = ByteBuffer()
                LedgerEntry(ledgerID: 1, entryID: UInt64(entry), lastAddConfirmed: Int64(entry) - 1, ledgerLength: 0, payload: big).write(into: &bytes)
                return BookieRequest(requestID: UInt64(entry), .add(entry: bytes, ledgerKey: [], recovery: false))
            }
            let answers = try await connection.exchange(requests)
            #expect(answers.contains { $0.status != .ok }, "the journal ran out of room")
            _ = try await Self.waitForRegistration(metadata, state: "read-only")

            try disk.free()
            let again = try await Self.waitForRegistration(metadata, state: "writable")
            let accepted = try await PipelinedConnection(port: again).exchange(
                [BookieRequest(requestID: 1, .add(entry: BookieServerTests.entry(2, 0), ledgerKey: [], recovery: false))]
            )
            #expect(accepted.first?.status == .ok, "adds are taken again: \(accepted)")
        } catch {
            Issue.record("\(error)")
        }
        running.cancel()
        _ = try? await running.value
        await metadata.close()
        await disk.unmount()
    }

    /// Waits up to 10 s for the registration of `b1` to say `state`; returns its port.
    static func waitForRegistration(_ metadata: any MetadataStore, state: String) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(10)
        var last = "nothing"
        while ContinuousClock.now < deadline {
            if let stored = try await metadata.get("/bookies/available/b1"),
                let object = try JSONSerialization.jsonObject(with: Data(stored.value)) as? [String: Any],
                let address = object["address"] as? String
            {
                last = "\(object)"
                if object["state"] as? String == state, let port = Int(address.split(separator: ":").last ?? "") { return port }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestHarnessError("the registration did not say \(state) within 10 s; last: \(last)")
    }
}

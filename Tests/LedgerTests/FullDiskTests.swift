import ClusterTesting
import Foundation
import Ledger
import Logging
import Metadata
import NIOCore
import Testing

/// A bookie whose journal disk fills up: it turns read-only (and says so in its
/// registration), brokers place new ledgers elsewhere, nothing it acknowledged is lost, it
/// starts again read-only on the full disk, and freeing space makes it writable again.
///
/// The journal lives on a small tmpfs the test mounts (the test needs to run as root, as
/// CI does).
@Suite("Full journal disk", .serialized, .timeLimit(.minutes(3)))
struct FullDiskTests {
    @Test func aFullJournalDiskTurnsTheBookieReadOnlyUntilThereIsRoom() async throws {
        let directory = try TemporaryDirectory(label: "full-disk")
        defer { directory.remove() }
        let disk = try await SmallDisk.mount(at: directory.file("bookie-1/journal"), megabytes: 160)
        let bookies: BookieCluster
        do {
            bookies = try await BookieCluster.start(count: 3, directory: directory)
        } catch {
            await disk.unmount()
            throw error
        }
        var logger = Logger(label: "full-disk")
        logger.logLevel = .error
        let metadata = try await MetadataStoreURL.open(bookies.metadataURL, logger: logger)
        let client = LedgerClient(metadata: metadata, configuration: .init(requestTimeout: .seconds(2)))
        let full = bookies.ids[0]
        do {
            let first = try await client.createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 3)
            for entry in 0..<200 { _ = try await first.append(LedgerCluster.payload(Int64(entry), size: 1024)) }
            _ = try await first.close()

            // Leave 4 MiB on the journal's disk: less than a journal preallocation step.
            try await disk.fill(leaving: 4 << 20)
            #expect(try await Self.waitForState(full, "read-only", metadata), "the bookie reported read-only")
            for _ in 0..<5 {
                let writer = try await client.createLedger(ensembleSize: 2, writeQuorum: 2, ackQuorum: 2)
                #expect(!(try await client.readMetadata(writer.ledgerID).0.ensembles[0].bookies.contains(full)), "placed on the full bookie")
                _ = try await writer.append(LedgerCluster.payload(0))
                _ = try await writer.close()
            }

            // Restarted on the full disk, it starts, read-only.
            bookies.kill(0)
            try await bookies.restart(0)
            #expect(try await Self.waitForState(full, "read-only", metadata), "the bookie started again read-only")
            let reader = try await client.openLedger(first.ledgerID)
            let entries = try await reader.read(from: 0, through: 199)
            #expect(entries == (0..<200).map { LedgerCluster.payload(Int64($0), size: 1024) }, "every acknowledged entry is there")

            try disk.free()
            #expect(try await Self.waitForState(full, "writable", metadata), "room again: writable")
            let everywhere = try await client.createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 3)
            for entry in 0..<20 { #expect(try await everywhere.append(LedgerCluster.payload(Int64(entry))) == Int64(entry)) }
            _ = try await everywhere.close()
        } catch {
            Issue.record("\(error)")
        }
        await client.close()
        await metadata.close()
        bookies.stopAll()
        await disk.unmount()
    }

    /// Waits up to 10 s for the bookie's registration to say `state`.
    static func waitForState(_ id: String, _ state: String, _ metadata: any MetadataStore) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let stored = try await metadata.get(ClusterLayout.availableBookie(id)),
                let object = try JSONSerialization.jsonObject(with: Data(stored.value)) as? [String: Any], object["state"] as? String == state
            {
                return true
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}

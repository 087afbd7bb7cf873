import ClusterTesting
import Foundation
import Ledger
import Logging
import Metadata
import NIOCore
import Synchronization

/// Real bookies with autorecovery on fast settings (audits every 0.5 s, a bookie lost
/// after 2 s away, sessions of 2 s), a metadata store and a ledger client for a test.
struct ReplicationCluster {
    let directory: TemporaryDirectory
    let bookies: BookieCluster
    let metadata: any MetadataStore
    let client: LedgerClient

    static func start(bookies count: Int, label: String, rateMB: Double = 0, extra: [String] = []) async throws -> ReplicationCluster {
        let directory = try TemporaryDirectory(label: label)
        let bookies = try await BookieCluster.start(
            count: count, directory: directory,
            extraArguments: [
                "--audit-interval-seconds", "0.5", "--lost-bookie-grace-seconds", "2", "--session-ttl-seconds", "2",
                "--rereplication-rate-mb", "\(rateMB)",
            ] + extra
        )
        var logger = Logger(label: "autorecovery-test")
        logger.logLevel = .error
        let metadata = try await MetadataStoreURL.open(bookies.metadataURL, logger: logger)
        let client = LedgerClient(metadata: metadata, configuration: .init(requestTimeout: .seconds(2), speculativeReadTimeout: .milliseconds(200)))
        return ReplicationCluster(directory: directory, bookies: bookies, metadata: metadata, client: client)
    }

    func stop() async {
        self.bookies.stopAll()
        await self.client.close()
        await self.metadata.close()
        self.directory.remove()
    }

    static func payload(_ ledger: Int64, _ entry: Int64, size: Int) -> ByteBuffer {
        var buffer = ByteBuffer(string: "ledger \(ledger) entry \(entry) ")
        buffer.writeRepeatingByte(UInt8(truncatingIfNeeded: entry &+ ledger), count: max(0, size - buffer.readableBytes))
        return buffer
    }

    /// Writes and closes a ledger of `entries` entries of `size` bytes.
    func writeLedger(ensemble: Int, writeQuorum: Int, ackQuorum: Int, entries: Int, size: Int = 512) async throws -> LedgerMetadata {
        let writer = try await self.client.createLedger(ensembleSize: ensemble, writeQuorum: writeQuorum, ackQuorum: ackQuorum)
        // Appends are numbered in call order: all are called in order, then awaited.
        let outcome = Mutex<(left: Int, failure: LedgerError?)>((entries, nil))
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            for entry in 0..<Int64(entries) {
                writer.append(Self.payload(writer.ledgerID, entry, size: size)) { result in
                    let finished = outcome.withLock { state -> (Bool, LedgerError?) in
                        state.left -= 1
                        if case .failure(let error) = result, state.failure == nil { state.failure = error }
                        return (state.left == 0, state.failure)
                    }
                    guard finished.0 else { return }
                    if let failure = finished.1 { continuation.resume(throwing: failure) } else { continuation.resume() }
                }
            }
        }
        return try await writer.close()
    }

    /// The ledger's metadata as stored.
    func metadata(of ledger: Int64) async throws -> LedgerMetadata {
        try await self.client.readMetadata(ledger).0
    }

    /// Whether any of `ledgers` still names `bookie`.
    func anyNames(_ bookie: String, _ ledgers: [Int64]) async throws -> Bool {
        for id in ledgers where try await self.metadata(of: id).bookies.contains(bookie) { return true }
        return false
    }

    /// Every replica problem of each of `ledgers` (all should be on live bookies).
    func replicaProblems(_ ledgers: [Int64]) async throws -> [Int64: [ReplicaProblem]] {
        var found: [Int64: [ReplicaProblem]] = [:]
        for id in ledgers {
            let (_, problems) = try await self.client.checkReplicas(of: id, metadata: try await self.metadata(of: id))
            if !problems.isEmpty { found[id] = problems }
        }
        return found
    }

    /// Reads every entry of `ledger` back through a reader and compares it with what was written.
    func readsBack(_ ledger: Int64, entries: Int, size: Int = 512) async throws -> Bool {
        let reader = try await self.client.openLedger(ledger)
        let read = try await reader.read(from: 0, through: Int64(entries - 1))
        return read == (0..<Int64(entries)).map { Self.payload(ledger, $0, size: size) }
    }

    func index(of bookie: String) -> Int { self.bookies.ids.firstIndex(of: bookie)! }
}

import BookieWire
import Metadata
import NIOCore

/// Decides where an open ledger ends and closes it there, so that every reader agrees on
/// its last entry and its writer can add nothing more.
///
/// 1. Mark it IN_RECOVERY (compare-and-set).
/// 2. Fence it on the bookies of its last ensemble until no write quorum has `Qa`
///    bookies left unfenced: from then on the old writer cannot get any entry confirmed.
/// 3. Start from the highest LAC the fenced bookies report.
/// 4. Read forward with fencing reads. An entry exists when one replica returns it; it is
///    absent when `Qw − Qa + 1` replicas say they do not have it (then fewer than `Qa`
///    could, so it was never confirmed). Answers like UNKNOWN_LEDGER_STATE or a timeout
///    count for neither; when neither can be decided, recovery fails and the ledger stays
///    IN_RECOVERY for a later attempt.
/// 5. Write each entry found to its whole write quorum with recovery adds.
/// 6. Close at the last entry found (compare-and-set). A concurrent recoverer that closed
///    first wins, and its result is returned.
struct LedgerRecovery {
    let client: LedgerClient
    let ledgerID: Int64

    func run() async throws -> LedgerMetadata {
        var (metadata, version) = try await self.client.readMetadata(self.ledgerID)
        while metadata.state == .open {
            var marked = metadata
            marked.state = .inRecovery
            do {
                version = try await self.put(marked, version)
                metadata = marked
            } catch let error as MetadataError where error.code == .badVersion {
                (metadata, version) = try await self.client.readMetadata(self.ledgerID)
            }
        }
        if metadata.state == .closed { return metadata }

        let segment = metadata.ensembles[metadata.ensembles.count - 1]
        var lac = max(segment.firstEntryID - 1, try await self.fence(metadata, segment.bookies))
        var length: UInt64 = 0
        if lac >= 0 {
            let reader = LedgerReader(client: self.client, ledgerID: self.ledgerID, metadata: metadata)
            length = try await self.entry(lac, of: metadata, fetchedBy: reader).ledgerLength
        }
        while let found = try await self.readForward(lac + 1, metadata) {
            try await self.rewrite(found.bytes, entryID: lac + 1, metadata)
            lac += 1
            length = found.entry.ledgerLength
        }

        while true {
            var closed = metadata
            closed.state = .closed
            closed.lastEntryID = lac
            closed.length = length
            do {
                _ = try await self.put(closed, version)
                return closed
            } catch let error as MetadataError where error.code == .badVersion {
                (metadata, version) = try await self.client.readMetadata(self.ledgerID)
                if metadata.state == .closed { return metadata }  // Another recoverer finished first.
            }
        }
    }

    private func put(_ metadata: LedgerMetadata, _ version: Int64) async throws -> Int64 {
        try await self.client.metadata.put(ClusterLayout.ledger(UInt64(self.ledgerID)), value: try metadata.encoded(), expecting: .version(version))
    }

    /// Fences the ledger on `ensemble`; returns the highest LAC among the bookies that
    /// answered, once enough did.
    private func fence(_ metadata: LedgerMetadata, _ ensemble: [String]) async throws -> Int64 {
        let read = ReadRequest(ledgerID: UInt64(self.ledgerID), firstEntryID: .max, fence: true, ledgerKey: metadata.key)
        let answers = await withTaskGroup(of: (Int, Result<BookieResponse, LedgerError>).self) { group in
            for (index, bookie) in ensemble.enumerated() {
                group.addTask { (index, await self.client.request(bookie) { id, head in BookieRequest(requestID: id, .read(read)).write(into: &head) }) }
            }
            return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        var fenced: Set<Int> = []
        var lac: Int64 = -1
        var problems: [String] = []
        for (index, answer) in answers.sorted(by: { $0.key < $1.key }) {
            switch answer {
            case .success(let response):
                if case .read(_, _, let reported, _) = response.body {
                    fenced.insert(index)
                    lac = max(lac, reported)
                } else {
                    problems.append(response.error(from: ensemble[index]).message)
                }
            case .failure(let error):
                problems.append(error.message)
            }
        }
        let needed = metadata.writeQuorum - metadata.ackQuorum + 1
        for first in 0..<metadata.ensembleSize {
            let quorum = LedgerMetadata.writeSetIndices(Int64(first), ensembleSize: metadata.ensembleSize, writeQuorum: metadata.writeQuorum)
            guard quorum.filter(fenced.contains).count >= needed else {
                throw LedgerError(
                    .recoveryFailed,
                    "ledger \(self.ledgerID): fenced \(fenced.count) of \(ensemble.count) bookies, but a write quorum needs \(needed) fenced; "
                        + "it stays IN_RECOVERY until more bookies are reachable (\(problems.joined(separator: "; ")))"
                )
            }
        }
        return lac
    }

    /// The entry `entryID` with its encoded bytes if a replica has it; nil if enough
    /// replicas say it is absent.
    private func readForward(_ entryID: Int64, _ metadata: LedgerMetadata) async throws -> (entry: LedgerEntry, bytes: ByteBuffer)? {
        let replicas = metadata.writeSet(for: entryID)
        let read = ReadRequest(ledgerID: UInt64(self.ledgerID), firstEntryID: UInt64(entryID), fence: true, ledgerKey: metadata.key)
        let answers = await withTaskGroup(of: (String, Result<BookieResponse, LedgerError>).self) { group in
            for bookie in replicas {
                group.addTask { (bookie, await self.client.request(bookie) { id, head in BookieRequest(requestID: id, .read(read)).write(into: &head) }) }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        var absent = 0
        var problems: [String] = []
        for (bookie, answer) in answers {
            switch answer {
            case .success(let response):
                guard case .read(_, _, _, let entries) = response.body else {
                    problems.append(response.error(from: bookie).message)
                    continue
                }
                guard let bytes = entries.first else {
                    absent += 1
                    continue
                }
                switch LedgerReader.verify(bytes, ledgerID: self.ledgerID, entryID: entryID, bookie: bookie) {
                case .success(let entry): return (entry, bytes)
                case .failure(let error): problems.append(error.message)
                }
            case .failure(let error):
                problems.append(error.message)
            }
        }
        if absent >= metadata.writeQuorum - metadata.ackQuorum + 1 { return nil }
        throw LedgerError(
            .recoveryFailed,
            "ledger \(self.ledgerID): cannot tell whether entry \(entryID) exists (\(absent) of \(replicas.count) replicas say absent): "
                + problems.joined(separator: "; ")
        )
    }

    /// Writes a found entry to every replica of its write set as a recovery add; at least
    /// an ack quorum must take it.
    private func rewrite(_ bytes: ByteBuffer, entryID: Int64, _ metadata: LedgerMetadata) async throws {
        let replicas = metadata.writeSet(for: entryID)
        let key = metadata.key
        let stored = await withTaskGroup(of: Bool.self) { group in
            for bookie in replicas {
                group.addTask {
                    let answer = await self.client.request(bookie) { id, head in
                        BookieRequest(requestID: id, .add(entry: bytes, ledgerKey: key, recovery: true)).write(into: &head)
                    }
                    if case .success(let response) = answer { return response.status == .ok }
                    return false
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        guard stored >= metadata.ackQuorum else {
            throw LedgerError(.recoveryFailed, "ledger \(self.ledgerID): only \(stored) bookies took recovered entry \(entryID), need \(metadata.ackQuorum)")
        }
    }

    /// A confirmed entry, for its length field.
    private func entry(_ entryID: Int64, of metadata: LedgerMetadata, fetchedBy reader: LedgerReader) async throws -> LedgerEntry {
        for bookie in metadata.writeSet(for: entryID) {
            let read = ReadRequest(ledgerID: UInt64(self.ledgerID), firstEntryID: UInt64(entryID))
            if case .success(let response) = await self.client.request(bookie, { id, head in BookieRequest(requestID: id, .read(read)).write(into: &head) }),
                case .read(_, _, _, let entries) = response.body, let bytes = entries.first,
                case .success(let entry) = LedgerReader.verify(bytes, ledgerID: self.ledgerID, entryID: entryID, bookie: bookie)
            {
                return entry
            }
        }
        throw LedgerError(.recoveryFailed, "ledger \(self.ledgerID): no replica returned confirmed entry \(entryID)")
    }
}

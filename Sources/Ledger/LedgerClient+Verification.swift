import BookieWire
import NIOCore

/// A problem found with one bookie's copy of a closed ledger.
public struct ReplicaProblem: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable {
        /// The bookie lacks entries of its write sets.
        case missingEntries
        /// The bookie returned entries that fail their digest or name another entry.
        case corruptEntries
        /// The bookie could not be asked (not registered, or no answer).
        case bookieUnreachable
        /// The bookie knows a LAC past the ledger's last entry: the ledger was closed short
        /// of an entry that was confirmed.
        case lacAhead
    }

    public var kind: Kind
    public var bookie: String
    /// The entries concerned: consecutive ones of the bookie's fragment, first and last.
    public var firstEntry: Int64?
    public var lastEntry: Int64?
    public var count: Int
    public var detail: String
}

extension LedgerClient {
    /// Checks that every bookie of every write set of closed ledger `ledgerID` holds each
    /// of its entries with a valid digest, and that no bookie's LAC is past the last entry.
    /// Returns the entries read and the problems found. Reads are in batches where the
    /// bookie holds consecutive entries.
    public func checkReplicas(of ledgerID: Int64, metadata: LedgerMetadata) async throws -> (entriesChecked: Int, problems: [ReplicaProblem]) {
        try await self.refreshBookies()
        let fragments = metadata.fragments(on: metadata.bookies)
        return await withTaskGroup(of: (Int, [ReplicaProblem]).self) { group in
            for fragment in fragments {
                group.addTask { await self.check(fragment, of: ledgerID) }
            }
            for bookie in metadata.bookies {
                group.addTask { (0, await self.checkLAC(of: ledgerID, on: bookie, last: metadata.lastEntryID)) }
            }
            var checked = 0
            var problems: [ReplicaProblem] = []
            for await (count, found) in group {
                checked += count
                problems += found
            }
            return (checked, problems.sorted { ($0.bookie, $0.firstEntry ?? -1, $0.kind.rawValue) < ($1.bookie, $1.firstEntry ?? -1, $1.kind.rawValue) })
        }
    }

    private func checkLAC(of ledgerID: Int64, on bookie: String, last: Int64) async -> [ReplicaProblem] {
        guard case .success(let response) = await self.request(bookie, .readLAC(ledgerID: UInt64(ledgerID))),
            case .readLAC(_, let lac) = response.body, lac > last
        else { return [] }
        return [
            ReplicaProblem(
                kind: .lacAhead, bookie: bookie, firstEntry: lac, lastEntry: lac, count: 1,
                detail: "bookie \(bookie) has LAC \(lac) for ledger \(ledgerID), closed at \(last)"
            )
        ]
    }

    /// Reads a fragment's entries from its bookie; returns how many were read and the
    /// problems, runs of missing or corrupt entries merged.
    private func check(_ fragment: LedgerFragment, of ledgerID: Int64) async -> (Int, [ReplicaProblem]) {
        let entries = fragment.entries
        let bookie = fragment.bookie
        var problems: [ReplicaProblem] = []
        var lastNoted: Int?
        func note(_ kind: ReplicaProblem.Kind, at index: Int, _ detail: String) {
            defer { lastNoted = index }
            if let previous = lastNoted, previous == index - 1, let last = problems.last, last.kind == kind {
                problems[problems.count - 1].lastEntry = entries[index]
                problems[problems.count - 1].count += 1
            } else {
                problems.append(ReplicaProblem(kind: kind, bookie: bookie, firstEntry: entries[index], lastEntry: entries[index], count: 1, detail: detail))
            }
        }
        var index = 0
        var read = 0
        while index < entries.count {
            // The run of consecutive entries from here, read as one batch.
            var run = 1
            while index + run < entries.count, entries[index + run] == entries[index] + Int64(run), run < 1000 { run += 1 }
            let request = ReadRequest(ledgerID: UInt64(ledgerID), firstEntryID: UInt64(entries[index]), maxEntries: UInt32(run), maxBytes: 4 << 20)
            var good = 0
            if case .success(let response) = await self.request(bookie, .read(request)), case .read(_, _, _, let returned) = response.body {
                for (offset, bytes) in returned.prefix(run).enumerated() {
                    guard case .success = LedgerReader.verify(bytes, ledgerID: ledgerID, entryID: entries[index] + Int64(offset), bookie: bookie) else { break }
                    good += 1
                }
            }
            if good > 0 {
                index += good
                read += good
                continue
            }
            // The first entry of the run, alone, says what is wrong.
            let entryID = entries[index]
            switch await self.readEncoded(entryID, of: ledgerID, from: bookie) {
            case .success:
                read += 1
            case .failure(let error) where error.code == .noSuchEntry:
                note(.missingEntries, at: index, "bookie \(bookie) lacks entries of ledger \(ledgerID)")
            case .failure(let error) where error.code == .corruptEntry:
                read += 1
                note(.corruptEntries, at: index, error.message)
            case .failure(let error):
                let remaining = entries[index...]
                problems.append(
                    ReplicaProblem(
                        kind: .bookieUnreachable, bookie: bookie, firstEntry: remaining.first, lastEntry: remaining.last, count: remaining.count,
                        detail: error.description
                    )
                )
                return (read, problems)
            }
            index += 1
        }
        return (read, problems)
    }
}

import Ledger
import Logging
import Metadata
import NIOCore

/// The end-of-run storage check: every entry of every closed ledger is read from every
/// bookie of its write set, each copy's digest checked, and the copies compared byte for
/// byte. One small file so that a shared cluster verifier can take its place.
enum LedgerCopiesCheck {
    struct Result: Sendable, CustomStringConvertible {
        var ledgers = 0
        var closedLedgers = 0
        var entries = 0
        var copies = 0
        var problems: [String] = []

        var description: String {
            "ledgers \(self.ledgers) (closed \(self.closedLedgers)), entries \(self.entries), copies read \(self.copies), problems \(self.problems.count)"
                + self.problems.prefix(20).map { "\n  \($0)" }.joined()
        }
    }

    static func run(metadataURL: String) async throws -> Result {
        let store = try await MetadataStoreURL.open(metadataURL, logger: Logger(label: "ledger-check"))
        let client = LedgerClient(metadata: store)
        let result: Swift.Result<Result, any Error>
        do {
            result = .success(try await self.run(store: store, client: client))
        } catch {
            result = .failure(error)
        }
        await client.close()
        await store.close()
        return try result.get()
    }

    /// Checks every closed ledger `store` lists, reading through `client`.
    static func run(store: any MetadataStore, client: LedgerClient) async throws -> Result {
        var result = Result()
        let ids = try await store.children(of: ClusterLayout.ledgers).compactMap { Int64($0) }.sorted()
        result.ledgers = ids.count
        for id in ids {
            let reader: LedgerReader
            do {
                let (metadata, _) = try await client.readMetadata(id)
                guard metadata.state == .closed else { continue }
                reader = try await client.openLedger(id)
            } catch {
                result.problems.append("ledger \(id): cannot open: \(error)")
                continue
            }
            result.closedLedgers += 1
            try await self.check(reader, into: &result)
        }
        return result
    }

    /// Reads each entry's copies, 64 entries at a time.
    private static func check(_ reader: LedgerReader, into result: inout Result) async throws {
        let last = reader.metadata.lastEntryID
        guard last >= 0 else { return }
        var first: Int64 = 0
        while first <= last {
            let through = min(last, first + 63)
            let found = await withTaskGroup(of: (entries: Int, copies: Int, problems: [String]).self) { group in
                for entry in first...through {
                    group.addTask {
                        var copies: [(String, ByteBuffer)] = []
                        var problems: [String] = []
                        for bookie in reader.metadata.writeSet(for: entry) {
                            do {
                                copies.append((bookie, try await reader.readCopy(entry, from: bookie)))
                            } catch {
                                problems.append("ledger \(reader.ledgerID) entry \(entry): bookie \(bookie): \(error)")
                            }
                        }
                        if let reference = copies.first {
                            for (bookie, copy) in copies.dropFirst() where copy != reference.1 {
                                problems.append("ledger \(reader.ledgerID) entry \(entry): the copies on \(reference.0) and \(bookie) differ")
                            }
                        }
                        return (1, copies.count, problems)
                    }
                }
                var total: (entries: Int, copies: Int, problems: [String]) = (0, 0, [])
                for await found in group {
                    total.entries += found.entries
                    total.copies += found.copies
                    total.problems += found.problems
                }
                return total
            }
            result.entries += found.entries
            result.copies += found.copies
            result.problems += found.problems
            first = through + 1
        }
    }
}

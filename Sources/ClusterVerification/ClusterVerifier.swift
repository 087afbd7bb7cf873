import Foundation
public import Ledger
public import Metadata

/// Checks a live cluster's data against its metadata:
/// - every entry of every closed ledger is on every bookie of its write set, with a valid
///   digest, and no bookie's LAC is past the ledger's last entry;
/// - every ledger is listed by some topic, and every ledger a topic lists exists;
/// - no cursor's mark-delete position is past its topic's last entry.
///
/// With `repair`, each closed ledger with missing, corrupt or unreachable copies is marked
/// under-replicated for the bookies concerned, for autorecovery's workers to restore.
public struct ClusterVerifier: Sendable {
    public struct Options: Sendable {
        /// Mark ledgers with bad copies for re-replication (default false).
        public var repair: Bool
        /// Closed ledgers checked at once (default 4).
        public var parallelLedgers: Int

        public init(repair: Bool = false, parallelLedgers: Int = 4) {
            self.repair = repair
            self.parallelLedgers = max(1, parallelLedgers)
        }
    }

    let store: any MetadataStore
    private let client: LedgerClient
    private let options: Options

    /// Verifies the cluster of `metadata`, reaching its bookies through `client` (by
    /// default a new client on `metadata`).
    public init(metadata: any MetadataStore, client: LedgerClient? = nil, options: Options = Options()) {
        self.store = metadata
        self.client = client ?? LedgerClient(metadata: metadata)
        self.options = options
    }

    /// Runs every check once and returns the report. Throws only when the metadata store
    /// cannot be read.
    public func run() async throws -> VerificationReport {
        var report = VerificationReport()
        let ledgers = try await UnderReplication.allLedgers(in: self.store)
        var closed: [(Int64, LedgerMetadata)] = []
        var metadataByID: [Int64: LedgerMetadata] = [:]
        for (id, result) in ledgers {
            switch result {
            case .success(let metadata):
                metadataByID[id] = metadata
                if metadata.state == .closed { closed.append((id, metadata)) } else { report.ledgersOpen += 1 }
            case .failure(let error):
                report.problems.append(VerificationProblem(kind: .unreadableMetadata, ledger: id, detail: error.message))
            }
        }
        try await self.checkReplicas(closed, into: &report)
        try await self.checkTopics(ledgers: metadataByID, allIDs: Set(ledgers.map(\.id)), into: &report)
        return report
    }

    private func checkReplicas(_ closed: [(Int64, LedgerMetadata)], into report: inout VerificationReport) async throws {
        let client = self.client
        let results = try await withThrowingTaskGroup(of: (Int64, Int, [ReplicaProblem]).self) { group in
            var results: [(Int64, Int, [ReplicaProblem])] = []
            var next = closed.startIndex
            while next < closed.endIndex || results.count < closed.count {
                while next < closed.endIndex, next - results.count < self.options.parallelLedgers {
                    let (id, metadata) = closed[next]
                    next += 1
                    group.addTask {
                        let (checked, problems) = try await client.checkReplicas(of: id, metadata: metadata)
                        return (id, checked, problems)
                    }
                }
                guard let result = try await group.next() else { break }
                results.append(result)
            }
            return results.sorted { $0.0 < $1.0 }
        }
        for (id, checked, problems) in results {
            report.ledgersChecked += 1
            report.entriesChecked += checked
            for problem in problems {
                let kind: VerificationProblem.Kind =
                    switch problem.kind {
                    case .missingEntries: .missingEntries
                    case .corruptEntries: .corruptEntries
                    case .bookieUnreachable: .bookieUnreachable
                    case .lacAhead: .lacAhead
                    }
                report.problems.append(
                    VerificationProblem(
                        kind: kind, ledger: id, bookie: problem.bookie, firstEntry: problem.firstEntry, lastEntry: problem.lastEntry,
                        count: problem.count, detail: problem.detail
                    )
                )
            }
            let damaged = Set(problems.filter { $0.kind != .lacAhead }.map(\.bookie))
            if self.options.repair, !damaged.isEmpty {
                try await UnderReplication.mark(id, bookies: damaged, reason: "verify", in: self.store)
                report.markedForRepair.append(id)
            }
        }
    }
}

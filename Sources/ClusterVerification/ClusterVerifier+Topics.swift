import Foundation
import Ledger
import Metadata

extension ClusterVerifier {
    /// A topic's ledger list as the managed ledger stores it.
    private struct LedgerList: Decodable {
        struct Info: Decodable {
            var id: Int64
            var entries: Int64
        }
        var ledgers: [Info]
    }

    /// A cursor as the managed ledger stores it (only what is checked).
    private struct CursorRecord: Decodable {
        struct Position: Decodable {
            var ledgerID: Int64
            var entryID: Int64
        }
        var markDelete: Position
    }

    /// Walks `/managed-ledgers/<tenant>/<namespace>/<domain>/<topic>`: checks each topic's
    /// ledgers exist and its cursors are within its log, and that every ledger is listed.
    func checkTopics(ledgers: [Int64: LedgerMetadata], allIDs: Set<Int64>, into report: inout VerificationReport) async throws {
        let root = ClusterLayout.managedLedgersRoot
        var listed: Set<Int64> = []
        for tenant in try await self.store.children(of: root) {
            for namespace in try await self.store.children(of: "\(root)/\(tenant)") {
                for domain in try await self.store.children(of: "\(root)/\(tenant)/\(namespace)") {
                    for topic in try await self.store.children(of: "\(root)/\(tenant)/\(namespace)/\(domain)") {
                        let name = "\(tenant)/\(namespace)/\(domain)/\(topic)"
                        guard let stored = try await self.store.get(ClusterLayout.managedLedger(name)) else { continue }
                        report.topicsChecked += 1
                        guard let list = try? JSONDecoder().decode(LedgerList.self, from: Data(stored.value)) else {
                            report.problems.append(VerificationProblem(kind: .unreadableMetadata, topic: name, detail: "the topic's ledger list cannot be read"))
                            continue
                        }
                        for info in list.ledgers {
                            listed.insert(info.id)
                            if !allIDs.contains(info.id) {
                                report.problems.append(
                                    VerificationProblem(kind: .missingLedger, ledger: info.id, topic: name, detail: "the topic lists a ledger that does not exist")
                                )
                            }
                        }
                        try await self.checkCursors(of: name, list: list, ledgers: ledgers, into: &report)
                    }
                }
            }
        }
        for id in allIDs.subtracting(listed).sorted() {
            report.problems.append(VerificationProblem(kind: .orphanLedger, ledger: id, detail: "no topic lists this ledger"))
        }
    }

    private func checkCursors(of name: String, list: LedgerList, ledgers: [Int64: LedgerMetadata], into report: inout VerificationReport) async throws {
        let cursors = "\(ClusterLayout.managedLedger(name))/cursors"
        for cursor in try await self.store.children(of: cursors) {
            guard let stored = try await self.store.get(ClusterLayout.cursor(cursor, of: name)) else { continue }
            report.cursorsChecked += 1
            guard let record = try? JSONDecoder().decode(CursorRecord.self, from: Data(stored.value)) else {
                report.problems.append(VerificationProblem(kind: .unreadableMetadata, topic: name, cursor: cursor, detail: "the cursor cannot be read"))
                continue
            }
            let position = record.markDelete
            let beyond: String?
            if let last = list.ledgers.last, position.ledgerID > last.id {
                beyond = "its ledger \(position.ledgerID) is past the topic's last ledger \(last.id)"
            } else if list.ledgers.contains(where: { $0.id == position.ledgerID }), let metadata = ledgers[position.ledgerID],
                metadata.state == .closed, position.entryID > metadata.lastEntryID
            {
                beyond = "ledger \(position.ledgerID) ends at entry \(metadata.lastEntryID)"
            } else {
                beyond = nil
            }
            if let beyond {
                report.problems.append(
                    VerificationProblem(
                        kind: .cursorBeyondEnd, ledger: position.ledgerID, topic: name, cursor: cursor,
                        detail: "mark-delete position \(position.ledgerID):\(position.entryID) is past the end: \(beyond)"
                    )
                )
            }
        }
    }
}

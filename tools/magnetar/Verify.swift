import ArgumentParser
import ClusterVerification
import Foundation
import Ledger
import Metadata

/// `magnetar verify`: checks a live cluster's data against its metadata.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a live cluster: every closed ledger's entries on every bookie of its write sets, topics and their ledgers, cursors.",
        discussion: """
            Reads the metadata store and every bookie of every closed ledger. Exit status: 0 \
            when no problem is found, 1 when some are (listed in the report), 3 when the \
            metadata store cannot be read. With --repair, ledgers with missing, corrupt or \
            unreachable copies are marked for re-replication (the bookies' autorecovery \
            workers restore them); run verify again afterwards to see them fixed.
            """
    )

    @OptionGroup var metadata: MetadataOptions
    @Flag(help: "Print the report as JSON.") var json = false
    @Flag(help: "Mark under-replicated ledgers for re-replication.") var repair = false

    func run() async throws {
        let store: any MetadataStore
        do {
            store = try await MetadataCommand.open(self.metadata)
        } catch {
            FileHandle.standardError.write(Data("Error: cannot open the metadata store: \(error)\n".utf8))
            throw ExitCode(3)
        }
        let client = LedgerClient(metadata: store)
        let report: VerificationReport
        do {
            report = try await ClusterVerifier(metadata: store, client: client, options: .init(repair: self.repair)).run()
        } catch {
            await client.close()
            await store.close()
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            throw ExitCode(3)
        }
        await client.close()
        await store.close()
        if self.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.text)
        }
        if !report.isClean { throw ExitCode(1) }
    }
}

import BookieServer
import BookieWire
import ClusterTesting
import Foundation
import Logging
import Metadata
import NIOCore
import Testing

@Suite("Cookies", .timeLimit(.minutes(2)))
struct CookieTests {
    static let expected = Cookie(bookieID: "b1", instanceID: "fresh", journalDirectory: "/j", ledgerDirectories: ["/l1", "/l2"])
    static var formatted: Cookie {
        var cookie = Self.expected
        cookie.instanceID = "instance-1"
        return cookie
    }

    static func directories(_ cookies: [Cookie?], data: [Bool]? = nil) -> [CookieCheck.Directory] {
        zip(["/j", "/l1", "/l2"], cookies).enumerated().map { index, pair in
            CookieCheck.Directory(path: pair.0, cookie: pair.1, hasData: data?[index] ?? (pair.1 != nil))
        }
    }

    static func mismatch(_ body: () throws -> CookieCheck.Verdict) -> String? {
        do {
            let verdict = try body()
            Issue.record("expected a refusal, got \(verdict)")
        } catch let mismatch as CookieCheck.Mismatch {
            return mismatch.description
        } catch {
            Issue.record("unexpected \(error)")
        }
        return nil
    }

    @Test func aNewBookieIsFormattedAndAKnownOneMatches() throws {
        #expect(try CookieCheck.verdict(expected: Self.expected, registered: nil, directories: Self.directories([nil, nil, nil])) == .format(Self.expected))
        let all = [Self.formatted, Self.formatted, Self.formatted]
        #expect(try CookieCheck.verdict(expected: Self.expected, registered: Self.formatted, directories: Self.directories(all)) == .matches(Self.formatted))
        // Cookies written but the registration interrupted: finish formatting.
        #expect(
            try CookieCheck.verdict(expected: Self.expected, registered: nil, directories: Self.directories(all, data: [false, false, false]))
                == .format(Self.formatted)
        )
    }

    @Test func anEmptiedDirectoryIsADataLossAndTheHighestHorizonWins() throws {
        var raised = Self.formatted
        raised.unknownStateHorizon = 7
        let verdict = try CookieCheck.verdict(
            expected: Self.expected, registered: Self.formatted, directories: Self.directories([raised, nil, Self.formatted])
        )
        #expect(verdict == .dataLost(raised, emptied: ["/l1"]))
    }

    @Test func mismatchesRefuseToStartAndSayWhatDiffers() {
        var otherDirectories = Self.expected
        otherDirectories.ledgerDirectories = ["/l1"]
        let all = [Self.formatted, Self.formatted, Self.formatted]
        let configuration = Self.mismatch {
            try CookieCheck.verdict(expected: otherDirectories, registered: Self.formatted, directories: Self.directories(all))
        }
        #expect(configuration?.contains("ledger directories: the cookie has /l1,/l2, the configuration has /l1") == true, "\(configuration ?? "")")

        var otherInstance = Self.formatted
        otherInstance.instanceID = "instance-2"
        let instance = Self.mismatch {
            try CookieCheck.verdict(expected: Self.expected, registered: Self.formatted, directories: Self.directories([Self.formatted, otherInstance, Self.formatted]))
        }
        #expect(instance?.contains("/l1") == true && instance?.contains("instance id") == true, "\(instance ?? "")")

        let unclaimed = Self.mismatch {
            try CookieCheck.verdict(expected: Self.expected, registered: Self.formatted, directories: Self.directories([Self.formatted, nil, Self.formatted], data: [true, true, true]))
        }
        #expect(unclaimed?.contains("/l1 holds data but no cookie") == true, "\(unclaimed ?? "")")

        let otherCluster = Self.mismatch {
            try CookieCheck.verdict(expected: Self.expected, registered: nil, directories: Self.directories(all))
        }
        #expect(otherCluster?.contains("metadata store has none") == true, "\(otherCluster ?? "")")

        let unformatted = Self.mismatch {
            try CookieCheck.verdict(expected: Self.expected, registered: nil, directories: Self.directories([nil, nil, nil], data: [false, true, false]))
        }
        #expect(unformatted?.contains("/l1 holds data but no cookie") == true, "\(unformatted ?? "")")
    }

    /// A real bookie whose ledger and journal directories are emptied between runs answers
    /// UNKNOWN_LEDGER_STATE for the ledgers it had, not NO_ENTRY; one started with other
    /// directories refuses to start and says why.
    @Test func aBookieThatLostItsDataAnswersUnknownAndAMisconfiguredOneRefusesToStart() async throws {
        let directory = try TemporaryDirectory(label: "cookie-process")
        defer { directory.remove() }
        let port = try FreePort.allocate()
        let url = "sqlite:\(directory.file("metadata.db"))"
        var logger = Logger(label: "cookie-test")
        logger.logLevel = .error
        let metadata = try await MetadataStoreURL.open(url, logger: logger)
        let ledger = UInt64(try await metadata.nextID(ClusterLayout.ledgerIDCounter))
        try await DirectLedgers.register([ledger], key: BookieProcessTests.key, in: metadata)
        await metadata.close()

        var bookie = try await BookieProcessTests.startBookie(directory, port: port, log: "first.log")
        let adds = (0..<20).map { BookieRequest(requestID: $0, .add(entry: BookieProcessTests.entry(ledger, $0), ledgerKey: BookieProcessTests.key, recovery: false)) }
        #expect(try await PipelinedConnection(port: port).exchange(adds).allSatisfy { $0.status == .ok })
        bookie.kill(SIGTERM)
        try await bookie.waitForExit()

        let misconfigured = try await ChildProcess.run(
            try BuiltProducts.path(of: "bookie"),
            [
                "--id", "bookie-1", "--listen", "127.0.0.1:\(port)", "--journal-dir", directory.file("journal"),
                "--ledger-dirs", directory.file("ledgers") + "," + directory.file("more-ledgers"), "--metadata-url", url,
            ]
        )
        #expect(misconfigured.status != 0)
        #expect(misconfigured.output.contains("ledger directories"), "\(misconfigured.output)")

        try FileManager.default.removeItem(atPath: directory.file("ledgers"))
        try FileManager.default.removeItem(atPath: directory.file("journal"))
        bookie = try await BookieProcessTests.startBookie(directory, port: port, log: "second.log")
        defer { bookie.stop() }
        #expect(bookie.output().contains("UNKNOWN_LEDGER_STATE"))
        let reads = try await PipelinedConnection(port: port).exchange([
            BookieRequest(requestID: 1, .read(ReadRequest(ledgerID: ledger, firstEntryID: 3))),
            BookieRequest(requestID: 2, .readLAC(ledgerID: ledger)),
            BookieRequest(requestID: 3, .add(entry: BookieProcessTests.entry(ledger, 20), ledgerKey: BookieProcessTests.key, recovery: false)),
            BookieRequest(requestID: 4, .read(ReadRequest(ledgerID: ledger + 1, firstEntryID: 0))),
        ])
        let statuses = Dictionary(uniqueKeysWithValues: reads.map { ($0.requestID, $0.status) })
        #expect(statuses == [1: .unknownLedgerState, 2: .unknownLedgerState, 3: .unknownLedgerState, 4: .noLedger])
        let cookie = try String(contentsOfFile: Cookie.path(in: directory.file("ledgers")), encoding: .utf8)
        #expect(cookie.contains("\"unknownStateHorizon\" : \(ledger)"), "\(cookie)")
    }
}

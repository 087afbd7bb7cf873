import BookieServer
import BookieStorage
import BookieWire
import ClusterTesting
import Foundation
import Logging
import Metadata
import NIOCore
import Synchronization
import Testing

@Suite("Read-only mode", .timeLimit(.minutes(1)))
struct ReadOnlyModeTests {
    @Test func theMonitorTurnsReadOnlyPastTheUpperMarkAndBackBelowTheLower() {
        var monitor = DiskMonitor(readOnlyAbove: 0.8, writableBelow: 0.6)
        #expect(!monitor.observe(usage: 0.5) && !monitor.readOnly)
        #expect(!monitor.observe(usage: 0.79) && !monitor.readOnly)
        #expect(monitor.observe(usage: 0.8) && monitor.readOnly)
        #expect(!monitor.observe(usage: 0.7) && monitor.readOnly, "no flapping between the marks")
        #expect(monitor.observe(usage: 0.6) && !monitor.readOnly)
    }

    @Test func aReadOnlyStoreRefusesNormalAddsButTakesRecoveryAdds() async throws {
        let directory = try TemporaryDirectory(label: "readonly-store")
        defer { directory.remove() }
        let store = try BookieStore.open(
            .init(journal: .init(directory: directory.file("journal"), preallocationStep: 256 << 10), ledgerDirectory: directory.file("ledgers"))
        )
        store.isReadOnly = true
        do {
            _ = try await store.addEntry(BookieServerTests.entry(1, 0), ledgerKey: [], recovery: false)
            Issue.record("a normal add was accepted while read-only")
        } catch {
            #expect(error.status == .readOnly)
        }
        _ = try await store.addEntry(BookieServerTests.entry(1, 0), ledgerKey: [], recovery: true)
        store.isReadOnly = false
        _ = try await store.addEntry(BookieServerTests.entry(1, 1), ledgerKey: [], recovery: false)
        store.close()
    }

    @Test func pastTheFullMarkRecoveryAddsAreRefusedToo() async throws {
        var monitor = DiskMonitor(readOnlyAbove: 0.8, writableBelow: 0.6)
        _ = monitor.observe(usage: 0.89)
        #expect(monitor.readOnly && !monitor.full)
        _ = monitor.observe(usage: 0.9)
        #expect(monitor.full, "halfway from the read-only mark to a full disk")
        _ = monitor.observe(usage: 0.7)
        #expect(monitor.readOnly && !monitor.full)

        let directory = try TemporaryDirectory(label: "full-store")
        defer { directory.remove() }
        let store = try BookieStore.open(
            .init(journal: .init(directory: directory.file("journal"), preallocationStep: 256 << 10), ledgerDirectory: directory.file("ledgers"))
        )
        store.isReadOnly = true
        store.isFull = true
        do {
            _ = try await store.addEntry(BookieServerTests.entry(1, 0), ledgerKey: [], recovery: true)
            Issue.record("a recovery add was accepted on a full disk")
        } catch {
            #expect(error.status == .readOnly)
        }
        store.isFull = false
        _ = try await store.addEntry(BookieServerTests.entry(1, 0), ledgerKey: [], recovery: true)
        store.close()
    }

    @Test func aBookieFlipsAtATestSizedThresholdAndBackAndSaysSo() async throws {
        let directory = try TemporaryDirectory(label: "readonly-service")
        defer { directory.remove() }
        let usage = Usage()
        let url = "sqlite:\(directory.file("metadata.db"))"
        var logger = Logger(label: "readonly-test")
        logger.logLevel = .error
        let service = BookieService(
            configuration: .init(
                id: "b1", host: "127.0.0.1", port: 0,
                journalDirectory: directory.file("journal"), ledgerDirectories: [directory.file("ledgers")],
                metadataURL: url, flushInterval: .milliseconds(50),
                diskMonitor: DiskMonitor(readOnlyAbove: 0.5, writableBelow: 0.3),
                diskUsage: { _ in usage.value }
            ),
            logger: logger
        )
        // Watch before the bookie starts, so its first registration is seen.
        let metadata = try await MetadataStoreURL.open(url, logger: logger)
        try await DirectLedgers.register([1], key: [], in: metadata)
        let watch = try await metadata.watch(.key("/bookies/available/b1"))
        let running = Task { try await service.run() }
        var states = watch.makeAsyncIterator()

        func nextState() async throws -> (state: String, address: String) {
            let event = try #require(try await states.next())
            let object = try #require(try JSONSerialization.jsonObject(with: Data(event.value)) as? [String: String])
            return (try #require(object["state"]), try #require(object["address"]))
        }

        let first = try await nextState()
        #expect(first.state == "writable")
        let port = try #require(Int(first.address.split(separator: ":").last!))
        usage.value = 0.6
        #expect(try await nextState().state == "read-only")
        let info = try await PipelinedConnection(port: port).exchange([BookieRequest(requestID: 1, .getInfo)])
        guard case .getInfo(let reported) = info.first?.body else { throw TestHarnessError("no GET_INFO answer: \(info)") }
        #expect(reported.readOnly)
        let refused = try await PipelinedConnection(port: port).exchange(
            [BookieRequest(requestID: 2, .add(entry: BookieServerTests.entry(1, 0), ledgerKey: [], recovery: false))]
        )
        #expect(refused.first?.status == .readOnly)
        usage.value = 0.4
        try await Task.sleep(for: .milliseconds(300))
        #expect(!(try await metadata.get("/bookies/available/b1")).map { String(decoding: $0.value, as: UTF8.self).contains("writable") }!,
            "still read-only between the marks")
        usage.value = 0.2
        #expect(try await nextState().state == "writable")
        let accepted = try await PipelinedConnection(port: port).exchange(
            [BookieRequest(requestID: 3, .add(entry: BookieServerTests.entry(1, 0), ledgerKey: [], recovery: false))]
        )
        #expect(accepted.first?.status == .ok)
        running.cancel()
        try await running.value
        await metadata.close()
    }
}

/// A disk usage reading the test controls.
final class Usage: Sendable {
    private let stored = Mutex(0.1)
    var value: Double {
        get { self.stored.withLock { $0 } }
        set { self.stored.withLock { $0 = newValue } }
    }
}

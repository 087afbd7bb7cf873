import ClusterTesting
import Foundation
import Logging
import Metadata
import Testing

@Suite("Bookie cluster", .timeLimit(.minutes(2)))
struct BookieClusterTests {
    /// The part of `/bookies/available/<id>` this test reads.
    struct Registration: Decodable {
        var address: String
    }

    /// Polls `condition` every 100 ms until it holds or `timeout` passes; returns whether
    /// it held.
    static func eventually(within timeout: Duration, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await condition()
    }

    @Test func bookiesRegisterLoseTheirKeyWhenKilledAndComeBackOnRestart() async throws {
        let directory = try TemporaryDirectory(label: "bookie-cluster")
        defer { directory.remove() }
        let cluster = try await BookieCluster.start(count: 3, directory: directory, journalSync: false)
        defer { cluster.stopAll() }
        #expect(cluster.ids == ["bookie-1", "bookie-2", "bookie-3"])
        #expect(Set((0..<3).map(cluster.port)).count == 3)
        #expect((0..<3).allSatisfy(cluster.isRunning))

        let store = try await MetadataStoreURL.open(cluster.metadataURL, logger: Logger(label: "test"))
        let available = { try await store.children(of: ClusterLayout.availableBookies) }
        #expect(try await available() == cluster.ids)
        for index in 0..<3 {
            let value = try #require(try await store.get(ClusterLayout.availableBookie(cluster.ids[index])))
            #expect(try JSONDecoder().decode(Registration.self, from: Data(value.value)).address == cluster.address(index))
        }

        // SIGKILL: no deregistration, so the key goes only when the 10 s session expires
        // (refreshed every TTL/3, so at least ~6.7 s after the kill).
        let killedAt = ContinuousClock.now
        cluster.kill(1)
        #expect(!cluster.isRunning(1))
        #expect(throws: TestHarnessError.self) { try cluster.wipe(0) }
        try cluster.wipe(1)
        #expect(!FileManager.default.fileExists(atPath: directory.file("bookie-2/journal")))
        #expect(try await Self.eventually(within: .seconds(20)) { try await available() == ["bookie-1", "bookie-3"] })
        #expect(ContinuousClock.now - killedAt >= .seconds(5), "the key of a killed bookie lasts for its session")

        try await cluster.restart(1)
        #expect(cluster.isRunning(1))
        #expect(try await Self.eventually(within: .seconds(5)) { try await available() == cluster.ids })
        let value = try #require(try await store.get(ClusterLayout.availableBookie("bookie-2")))
        #expect(try JSONDecoder().decode(Registration.self, from: Data(value.value)).address == cluster.address(1))
        #expect(FileManager.default.fileExists(atPath: directory.file("bookie-2-2.log")))

        // A fourth bookie joins; SIGTERM deregisters at once instead of waiting for the TTL.
        try await cluster.add()
        #expect(try await available() == ["bookie-1", "bookie-2", "bookie-3", "bookie-4"])
        try await cluster.terminate(3)
        #expect(!cluster.isRunning(3))
        #expect(try await Self.eventually(within: .seconds(2)) { try await available() == ["bookie-1", "bookie-2", "bookie-3"] })
        await store.close()
    }
}

import ClusterTesting
import Foundation
import Logging
import Metadata
import Testing

/// SQLite sessions count their expiry on the host's boot clock, which every process on
/// the host shares and a wall-clock step does not move. The file records the boot its
/// times count from: sessions from an earlier boot end when the file is opened in a new
/// one.
@Suite("SQLite session clock", .timeLimit(.minutes(1)))
struct SQLiteSessionClockTests {
    @Test func sessionsOfAnEarlierBootEndWhenTheFileIsOpened() async throws {
        let directory = try TemporaryDirectory(label: "sqlite-boot")
        defer { directory.remove() }
        let path = directory.file("metadata.db")
        var logger = Logger(label: "sqlite-boot")
        logger.logLevel = .error

        var store = try await MetadataStoreURL.open("sqlite:\(path)", logger: logger)
        let session = try await store.createSession(ttl: .seconds(60))
        try await store.put("/bookies/available/b1", value: Array("here".utf8), session: session)
        await store.close()

        // The same boot: the session lives on.
        store = try await MetadataStoreURL.open("sqlite:\(path)", logger: logger)
        #expect(try await store.get("/bookies/available/b1") != nil, "a session of this boot survives a reopen")
        await store.close()

        // The file as a process of another boot left it.
        let edited = try await ChildProcess.run(
            "sqlite3", [path, "UPDATE store SET value = value + 1 WHERE name = 'session-boot'; SELECT changes();"], timeout: .seconds(10)
        )
        #expect(edited.status == 0 && edited.output.contains("1"), "the boot record was changed: \(edited.output)")
        store = try await MetadataStoreURL.open("sqlite:\(path)", logger: logger)
        #expect(try await store.get("/bookies/available/b1") == nil, "a session of an earlier boot ended with its keys")
        await store.close()
    }
}

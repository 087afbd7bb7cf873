import BookieStorage
import ClusterTesting
import Foundation
import NIOCore
import Synchronization
import Testing

@Suite("Journal", .timeLimit(.minutes(2)))
struct JournalTests {
    static func entry(_ ledger: UInt64, _ entry: UInt64, size: Int = 100) -> JournalRecord {
        .entry(ledgerID: ledger, entryID: entry, bytes: ByteBuffer(repeating: UInt8(truncatingIfNeeded: entry), count: size))
    }

    static func replayAll(_ directory: String, from start: JournalPosition = .start) throws -> ([JournalRecord], Journal.ReplaySummary) {
        var records: [JournalRecord] = []
        let summary = try Journal.replay(directory: directory, from: start) { record, _ in records.append(record) }
        return (records, summary)
    }

    /// The journal files in `directory`, oldest first.
    static func files(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("journal-") }.sorted()
            .map { "\(directory)/\($0)" }
    }

    @Test func recordsReplayInOrderAfterClose() async throws {
        let directory = try TemporaryDirectory(label: "journal")
        defer { directory.remove() }
        let journal = try Journal.open(.init(directory: directory.path, preallocationStep: 256 << 10))
        let records: [JournalRecord] = [
            .ledgerKey(ledgerID: 1, key: Array("secret".utf8)),
            Self.entry(1, 0), Self.entry(1, 1, size: 0), Self.entry(2, 0, size: 70_000),
            .fence(ledgerID: 1), .lastAddConfirmed(ledgerID: 2, lac: 0),
        ]
        var positions: [JournalPosition] = []
        for record in records { positions.append(try await journal.append(record)) }
        journal.close()
        #expect(positions == positions.sorted() && Set(positions).count == positions.count)
        let (replayed, summary) = try Self.replayAll(directory.path)
        #expect(replayed == records)
        #expect(summary.end == positions.last)
        #expect(summary.tornBytes == 0)
        let closed = await #expect(throws: StorageError.self) { try await journal.append(.fence(ledgerID: 3)) }
        #expect(closed?.code == .closed)
    }

    @Test func concurrentAppendsShareGroupCommitsAndAllComplete() async throws {
        let directory = try TemporaryDirectory(label: "journal-group")
        defer { directory.remove() }
        let journal = try Journal.open(.init(directory: directory.path, preallocationStep: 256 << 10))
        let count = 2000
        let completed = Mutex<[Int: JournalPosition]>([:])
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            for index in 0..<count {
                journal.append(Self.entry(7, UInt64(index))) { result in
                    let finished = completed.withLock { completed in
                        completed[index] = try? result.get()
                        return completed.count == count
                    }
                    if finished { done.resume() }
                }
            }
        }
        journal.close()
        let positions = completed.withLock { $0 }
        #expect(positions.values.count == count, "every append succeeded")
        #expect((0..<count).map { positions[$0]! } == (0..<count).map { positions[$0]! }.sorted(), "completions in order")
        #expect(journal.groupsCommitted < count, "appends were grouped (\(journal.groupsCommitted) groups)")
        let (replayed, _) = try Self.replayAll(directory.path)
        #expect(replayed == (0..<count).map { Self.entry(7, UInt64($0)) })
        // Positions fall between records, also inside a batch: replay resumes exactly there.
        for k in [0, 1, 499, 1000, 1998] {
            let (tail, _) = try Self.replayAll(directory.path, from: positions[k]!)
            #expect(tail == ((k + 1)..<count).map { Self.entry(7, UInt64($0)) }, "from the position of record \(k)")
        }
    }

    @Test func filesRollAndReplayAcrossThemAndAcrossReopens() async throws {
        let directory = try TemporaryDirectory(label: "journal-roll")
        defer { directory.remove() }
        let configuration = Journal.Configuration(directory: directory.path, maxFileSize: 8192, preallocationStep: 4096)
        var journal = try Journal.open(configuration)
        for index in 0..<100 { try await journal.append(Self.entry(1, UInt64(index), size: 500)) }
        journal.close()
        journal = try Journal.open(configuration)
        var middle = JournalPosition.start
        for index in 100..<150 {
            let position = try await journal.append(Self.entry(1, UInt64(index), size: 500))
            if index == 119 { middle = position }
        }
        journal.close()
        #expect(try Self.files(directory.path).count > 5)
        let (replayed, _) = try Self.replayAll(directory.path)
        #expect(replayed == (0..<150).map { Self.entry(1, UInt64($0), size: 500) })
        let (tail, _) = try Self.replayAll(directory.path, from: middle)
        #expect(tail == (120..<150).map { Self.entry(1, UInt64($0), size: 500) })
    }

    @Test func withoutSyncEachGroupRecordsStillReplay() async throws {
        let directory = try TemporaryDirectory(label: "journal-nosync")
        defer { directory.remove() }
        let journal = try Journal.open(.init(directory: directory.path, syncEachGroup: false, preallocationStep: 256 << 10))
        for index in 0..<50 { try await journal.append(Self.entry(3, UInt64(index))) }
        journal.close()
        #expect(try Self.replayAll(directory.path).0.count == 50)
    }

    /// Synced groups go past the page cache (O_DIRECT, rewriting the partial block at the
    /// end each time); the file comes out byte for byte as buffered writes leave it.
    @Test func directWritesLeaveTheFileBufferedWritesDo() async throws {
        let sizes = [0, 1, 100, 4000, 4096, 5000, 10, 70_000, 3, 8191, 1, 200_000, 17]
        var files: [[UInt8]] = []
        for synced in [true, false] {
            let directory = try TemporaryDirectory(label: "journal-direct")
            defer { directory.remove() }
            let journal = try Journal.open(.init(directory: directory.path, syncEachGroup: synced, preallocationStep: 256 << 10))
            if synced {
                // The descriptor the journal writes with was opened for direct I/O.
                let path = try Self.files(directory.path)[0]
                let flags = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap { fd -> Int? in
                    guard (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")) == path,
                        let info = try? String(contentsOfFile: "/proc/self/fdinfo/\(fd)", encoding: .utf8),
                        let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags:") })
                    else { return nil }
                    return Int(line.dropFirst("flags:".count).trimmingCharacters(in: .whitespaces), radix: 8)
                }
                #if arch(arm64)
                let direct = 0o200000
                #else
                let direct = 0o40000
                #endif
                #expect(flags.contains { $0 & direct != 0 }, "no O_DIRECT descriptor among \(flags.map { String($0, radix: 8) })")
            }
            // One record per group: each append waits for its commit.
            for (index, size) in sizes.enumerated() { try await journal.append(Self.entry(4, UInt64(index), size: size)) }
            journal.close()
            #expect(try Self.replayAll(directory.path).0 == sizes.enumerated().map { Self.entry(4, UInt64($0), size: $1) })
            files.append(Array(try Data(contentsOf: URL(fileURLWithPath: Self.files(directory.path)[0]))))
        }
        #expect(files[0].count == files[1].count)
        #expect(files[0] == files[1])
    }

    @Test func aTornTailIsCut() async throws {
        let directory = try TemporaryDirectory(label: "journal-torn")
        defer { directory.remove() }
        let journal = try Journal.open(.init(directory: directory.path, preallocationStep: 256 << 10))
        var end = JournalPosition.start
        for index in 0..<10 { end = try await journal.append(Self.entry(1, UInt64(index))) }
        journal.close()
        // A batch whose header made it to disk but whose records did not all follow.
        let file = try #require(try Self.files(directory.path).last)
        let handle = try #require(FileHandle(forUpdatingAtPath: file))
        try handle.seek(toOffset: end.offset)
        var torn = ByteBuffer()
        torn.writeMultipleIntegers(UInt32(300), UInt32(0xDEAD_BEEF))
        torn.writeBytes([UInt8](repeating: 0x42, count: 120))
        try handle.write(contentsOf: Data(torn.readableBytesView))
        try handle.close()
        let (replayed, summary) = try Self.replayAll(directory.path)
        #expect(replayed == (0..<10).map { Self.entry(1, UInt64($0)) })
        #expect(summary.end == end)
        #expect(summary.tornBytes == 128)
    }

    @Test func aFlippedBitBeforeGoodDataIsRefused() async throws {
        let directory = try TemporaryDirectory(label: "journal-flip")
        defer { directory.remove() }
        let journal = try Journal.open(.init(directory: directory.path, preallocationStep: 256 << 10))
        var positions: [JournalPosition] = []
        for index in 0..<10 { positions.append(try await journal.append(Self.entry(1, UInt64(index)))) }
        journal.close()
        let file = try #require(try Self.files(directory.path).last)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        let target = Int(positions[3].offset) - 10  // Inside entry 3's payload, in an early batch.
        bytes[target] ^= 0x10
        try bytes.write(to: URL(fileURLWithPath: file))
        var served: [JournalRecord] = []
        let error = #expect(throws: StorageError.self) {
            _ = try Journal.replay(directory: directory.path) { record, _ in served.append(record) }
        }
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains(file) == true)
        #expect(!served.contains(Self.entry(1, 3)) && served.count < 4, "nothing from the damaged batch was served")
    }

    @Test func aFlippedBitInTheLastBatchIsCutNotServed() async throws {
        let directory = try TemporaryDirectory(label: "journal-flip-last")
        defer { directory.remove() }
        let journal = try Journal.open(.init(directory: directory.path, preallocationStep: 256 << 10))
        var positions: [JournalPosition] = []
        for index in 0..<5 { positions.append(try await journal.append(Self.entry(1, UInt64(index)))) }
        journal.close()
        let file = try #require(try Self.files(directory.path).last)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        bytes[Int(positions[4].offset) - 1] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: file))
        let (replayed, summary) = try Self.replayAll(directory.path)
        #expect(replayed == (0..<4).map { Self.entry(1, UInt64($0)) })
        #expect(summary.tornBytes > 0)
    }

    @Test func damageInAnOlderFileIsRefused() async throws {
        let directory = try TemporaryDirectory(label: "journal-old")
        defer { directory.remove() }
        for round in 0..<2 {
            let journal = try Journal.open(.init(directory: directory.path, preallocationStep: 256 << 10))
            try await journal.append(Self.entry(1, UInt64(round)))
            journal.close()
        }
        let oldest = try #require(try Self.files(directory.path).first)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: oldest))
        bytes[30] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: oldest))
        let error = #expect(throws: StorageError.self) { _ = try Self.replayAll(directory.path) }
        #expect(error?.code == .corrupt)
    }
}

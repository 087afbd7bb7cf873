@testable import BookieStorage
import ClusterTesting
import Foundation
import NIOCore
import Testing

@Suite("Entry log")
struct EntryLogTests {
    static func payload(_ ledger: UInt64, _ entry: UInt64) -> ByteBuffer {
        ByteBuffer(string: "ledger \(ledger) entry \(entry) " + String(repeating: "x", count: Int(entry) * 10))
    }

    @Test func entriesReadBackAfterFlushAndAcrossReopenAndRolls() throws {
        let directory = try TemporaryDirectory(label: "entrylog")
        defer { directory.remove() }
        var locations: [(UInt64, UInt64, EntryLocation)] = []
        do {
            let log = try EntryLog(directory: directory.path, maxFileSize: 4096)
            for ledger: UInt64 in [1, 2] {
                for entry: UInt64 in 0..<40 {
                    locations.append((ledger, entry, try log.append(ledgerID: ledger, entryID: entry, bytes: Self.payload(ledger, entry))))
                }
            }
            try log.flush()
            for (ledger, entry, location) in locations {
                #expect(try log.read(location, ledgerID: ledger, entryID: entry) == Self.payload(ledger, entry))
            }
        }
        #expect(try EntryLog.ids(in: directory.path).count > 3, "small files rolled")
        let reopened = try EntryLog(directory: directory.path, maxFileSize: 4096)
        for (ledger, entry, location) in locations {
            #expect(try reopened.read(location, ledgerID: ledger, entryID: entry) == Self.payload(ledger, entry))
        }
    }

    @Test func damagedOrMisplacedRecordsAreNeverServed() throws {
        let directory = try TemporaryDirectory(label: "entrylog-bad")
        defer { directory.remove() }
        let log = try EntryLog(directory: directory.path)
        let location = try log.append(ledgerID: 5, entryID: 9, bytes: Self.payload(5, 9))
        try log.flush()
        let misplaced = #expect(throws: StorageError.self) { try log.read(location, ledgerID: 5, entryID: 10) }
        #expect(misplaced?.code == .corrupt)
        let path = EntryLog.path(directory.path, location.logID)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[Int(location.offset) + Int(location.length) - 3] ^= 0x04
        try bytes.write(to: URL(fileURLWithPath: path))
        let fresh = try EntryLog(directory: directory.path)
        let damaged = #expect(throws: StorageError.self) { try fresh.read(location, ledgerID: 5, entryID: 9) }
        #expect(damaged?.code == .corrupt)
        let beyond = EntryLocation(logID: location.logID, offset: location.offset + 1000, length: location.length)
        #expect(throws: StorageError.self) { try fresh.read(beyond, ledgerID: 5, entryID: 9) }
    }
}

@Suite("Entry index")
struct EntryIndexTests {
    @Test func locationsStatesAndCheckpointPersistTogether() throws {
        let directory = try TemporaryDirectory(label: "index")
        defer { directory.remove() }
        do {
            let index = try EntryIndex(path: directory.file("index"))
            #expect(try index.checkpoint() == nil)
            #expect(try index.lastEntryID(ledgerID: 3) == nil)
            let changes = EntryIndex.Changes()
            for entry: UInt64 in [0, 1, 2, 10] {
                changes.setLocation(EntryLocation(logID: 1, offset: 100 * entry, length: 50), ledgerID: 3, entryID: entry)
            }
            changes.setLocation(EntryLocation(logID: 2, offset: 0, length: 9), ledgerID: 4, entryID: 0)
            changes.setLocation(EntryLocation(logID: 2, offset: 9, length: 9), ledgerID: .max, entryID: .max)
            changes.setState(LedgerState(fenced: true, key: [1, 2, 3], lastAddConfirmed: 9), ledgerID: 3)
            changes.setState(LedgerState(), ledgerID: 4)
            changes.setCheckpoint(JournalPosition(fileID: 7, offset: 4096))
            try index.apply(changes, sync: true)
        }
        let index = try EntryIndex(path: directory.file("index"))
        #expect(try index.location(ledgerID: 3, entryID: 10) == EntryLocation(logID: 1, offset: 1000, length: 50))
        #expect(try index.location(ledgerID: 3, entryID: 5) == nil)
        #expect(try index.lastEntryID(ledgerID: 3) == 10)
        #expect(try index.lastEntryID(ledgerID: 4) == 0)
        #expect(try index.lastEntryID(ledgerID: .max) == .max)
        #expect(try index.lastEntryID(ledgerID: 2) == nil)
        #expect(try index.state(ledgerID: 3) == LedgerState(fenced: true, key: [1, 2, 3], lastAddConfirmed: 9))
        #expect(try index.state(ledgerID: 4) == LedgerState())
        #expect(try index.checkpoint() == JournalPosition(fileID: 7, offset: 4096))
        #expect(try index.ledgerIDs() == [3, 4])

        let deletion = EntryIndex.Changes()
        deletion.deleteLedger(3)
        deletion.deleteLedger(.max)
        try index.apply(deletion, sync: true)
        #expect(try index.lastEntryID(ledgerID: 3) == nil)
        #expect(try index.lastEntryID(ledgerID: .max) == nil)
        #expect(try index.state(ledgerID: 3) == nil)
        #expect(try index.lastEntryID(ledgerID: 4) == 0, "a neighbour is untouched")
        #expect(try index.ledgerIDs() == [4])
    }

    @Test func anUnopenableIndexIsAClearError() throws {
        let directory = try TemporaryDirectory(label: "index-bad")
        defer { directory.remove() }
        try Data("not a directory".utf8).write(to: URL(fileURLWithPath: directory.file("index")))
        let error = #expect(throws: StorageError.self) { try EntryIndex(path: directory.file("index")) }
        #expect(error?.code == .io)
        #expect(error?.message.contains(directory.file("index")) == true)
    }
}

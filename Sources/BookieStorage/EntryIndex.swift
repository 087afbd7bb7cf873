import Synchronization

/// Where an entry lives in the entry logs.
public struct EntryLocation: Hashable, Sendable {
    public var logID: UInt64
    public var offset: UInt64
    public var length: UInt32

    public init(logID: UInt64, offset: UInt64, length: UInt32) {
        self.logID = logID
        self.offset = offset
        self.length = length
    }
}

/// What a bookie remembers about a ledger besides its entries.
public struct LedgerState: Hashable, Sendable {
    public var fenced: Bool
    /// The key its writer presented; empty until the first add.
    public var key: [UInt8]
    /// The highest LAC seen in an entry or a WRITE_LAC (-1: none).
    public var lastAddConfirmed: Int64

    public init(fenced: Bool = false, key: [UInt8] = [], lastAddConfirmed: Int64 = -1) {
        self.fenced = fenced
        self.key = key
        self.lastAddConfirmed = lastAddConfirmed
    }
}

/// The bookie's index in RocksDB: entry locations, ledger states and the checkpoint.
///
/// Keys: `e<ledger u64><entry u64>` → `<log u64><offset u64><length u32>`;
/// `l<ledger u64>` → `<fenced u8><lac i64><key length u16><key>`;
/// `c` → the journal position of the last checkpoint; `n<directory u8>` → the highest
/// entry log id used in that ledger directory. All integers big-endian, so RocksDB's byte
/// order is (ledger, entry) order.
final class EntryIndex: Sendable {
    private let database: RocksDB
    /// For tests: runs before every read of a ledger's state or an entry's location, with
    /// the ledger's id (a test blocks it to show who waits on RocksDB).
    let testingBeforeRead = Mutex<(@Sendable (UInt64) -> Void)?>(nil)

    init(path: String) throws(StorageError) {
        self.database = try RocksDB(path: path)
    }

    /// Changes to apply together with ``apply(_:sync:)``.
    final class Changes {
        fileprivate let batch = WriteBatch()

        /// Called for every flushed entry, so it encodes on the stack.
        func setLocation(_ location: EntryLocation, ledgerID: UInt64, entryID: UInt64) {
            withUnsafeTemporaryAllocation(byteCount: 17 + 20, alignment: 8) { raw in
                raw.storeBytes(of: UInt8(ascii: "e"), toByteOffset: 0, as: UInt8.self)
                raw.storeBytes(of: ledgerID.bigEndian, toByteOffset: 1, as: UInt64.self)
                raw.storeBytes(of: entryID.bigEndian, toByteOffset: 9, as: UInt64.self)
                raw.storeBytes(of: location.logID.bigEndian, toByteOffset: 17, as: UInt64.self)
                raw.storeBytes(of: location.offset.bigEndian, toByteOffset: 25, as: UInt64.self)
                raw.storeBytes(of: location.length.bigEndian, toByteOffset: 33, as: UInt32.self)
                let bytes = UnsafeRawBufferPointer(raw)
                self.batch.put(UnsafeRawBufferPointer(rebasing: bytes[..<17]), UnsafeRawBufferPointer(rebasing: bytes[17...]))
            }
        }

        func setState(_ state: LedgerState, ledgerID: UInt64) {
            var value = Bytes()
            value.append(UInt8(state.fenced ? 1 : 0))
            value.append(UInt64(bitPattern: state.lastAddConfirmed))
            value.append(UInt16(state.key.count))
            value.bytes += state.key
            self.batch.put(EntryIndex.ledgerKey(ledgerID), value.bytes)
        }

        func setCheckpoint(_ position: JournalPosition) {
            var value = Bytes()
            value.append(position.fileID)
            value.append(position.offset)
            self.batch.put(EntryIndex.checkpointKey, value.bytes)
        }

        func setLastLogID(_ logID: UInt64, directory: Int) {
            var value = Bytes()
            value.append(logID)
            self.batch.put(EntryIndex.lastLogKey(directory), value.bytes)
        }

        func deleteLedger(_ ledgerID: UInt64) {
            self.batch.deleteRange(EntryIndex.entryKey(ledgerID, 0), EntryIndex.entryKey(ledgerID, .max))
            self.batch.delete(EntryIndex.entryKey(ledgerID, .max))
            self.batch.delete(EntryIndex.ledgerKey(ledgerID))
        }

        var isEmpty: Bool { self.batch.count == 0 }
    }

    /// Releases the database; nothing may use the index afterwards.
    func close() {
        self.database.close()
    }

    func apply(_ changes: Changes, sync: Bool) throws(StorageError) {
        try self.database.write(changes.batch, sync: sync)
    }

    func location(ledgerID: UInt64, entryID: UInt64) throws(StorageError) -> EntryLocation? {
        self.testingBeforeRead.withLock { $0 }?(ledgerID)
        guard let value = try self.database.get(Self.entryKey(ledgerID, entryID)) else { return nil }
        return try Self.location(decoding: value, of: ledgerID, entryID)
    }

    /// An entry's location from its index value (checked: a damaged value is `corrupt`).
    static func location(decoding value: [UInt8], of ledgerID: UInt64, _ entryID: UInt64) throws(StorageError) -> EntryLocation {
        var reader = BytesReader(value)
        guard let logID = reader.read(UInt64.self), let offset = reader.read(UInt64.self), let length = reader.read(UInt32.self),
            reader.isAtEnd, offset <= UInt64(Int64.max)
        else { throw StorageError(.corrupt, "the index entry of \(ledgerID):\(entryID) is malformed") }
        return EntryLocation(logID: logID, offset: offset, length: length)
    }

    func state(ledgerID: UInt64) throws(StorageError) -> LedgerState? {
        self.testingBeforeRead.withLock { $0 }?(ledgerID)
        guard let value = try self.database.get(Self.ledgerKey(ledgerID)) else { return nil }
        return try Self.state(decoding: value, of: ledgerID)
    }

    /// A ledger's state from its index value (checked: a damaged value is `corrupt`).
    static func state(decoding value: [UInt8], of ledgerID: UInt64) throws(StorageError) -> LedgerState {
        var reader = BytesReader(value)
        guard let fenced = reader.read(UInt8.self), let lac = reader.read(UInt64.self), let count = reader.read(UInt16.self),
            let key = reader.readBytes(Int(count)), reader.isAtEnd
        else { throw StorageError(.corrupt, "the index state of ledger \(ledgerID) is malformed") }
        return LedgerState(fenced: fenced != 0, key: key, lastAddConfirmed: Int64(bitPattern: lac))
    }

    /// The highest entry id indexed for the ledger.
    func lastEntryID(ledgerID: UInt64) throws(StorageError) -> UInt64? {
        let prefix = Array(Self.entryKey(ledgerID, 0).dropLast(8))
        guard let key = try self.database.lastKey(withPrefix: prefix, atMost: Self.entryKey(ledgerID, .max)) else { return nil }
        var reader = BytesReader(Array(key.dropFirst(9)))
        return reader.read(UInt64.self)
    }

    func checkpoint() throws(StorageError) -> JournalPosition? {
        guard let value = try self.database.get(Self.checkpointKey) else { return nil }
        return try Self.checkpoint(decoding: value)
    }

    /// The checkpoint from its index value (checked: a damaged value is `corrupt`).
    static func checkpoint(decoding value: [UInt8]) throws(StorageError) -> JournalPosition {
        var reader = BytesReader(value)
        guard let fileID = reader.read(UInt64.self), let offset = reader.read(UInt64.self), reader.isAtEnd, offset <= UInt64(Int64.max) else {
            throw StorageError(.corrupt, "the checkpoint record is malformed")
        }
        return JournalPosition(fileID: fileID, offset: offset)
    }

    /// The highest entry log id used in a ledger directory (0: none yet).
    func lastLogID(directory: Int) throws(StorageError) -> UInt64 {
        try self.integer(at: Self.lastLogKey(directory), what: "entry log high-water mark") ?? 0
    }

    private func integer(at key: [UInt8], what: String) throws(StorageError) -> UInt64? {
        guard let value = try self.database.get(key) else { return nil }
        var reader = BytesReader(value)
        guard let number = reader.read(UInt64.self), reader.isAtEnd else { throw StorageError(.corrupt, "the \(what) is malformed") }
        return number
    }

    /// The bytes of indexed entries in each entry log, by log id.
    func liveBytesByLog() throws(StorageError) -> [UInt64: Int] {
        var live: [UInt64: Int] = [:]
        try self.database.scan(from: Self.entryKey(0, 0), to: [UInt8(ascii: "f")]) { (_, value) throws(StorageError) in
            guard value.count == 20 else { throw StorageError(.corrupt, "an index entry is malformed") }
            let logID = value.loadUnaligned(fromByteOffset: 0, as: UInt64.self).bigEndian
            let length = value.loadUnaligned(fromByteOffset: 16, as: UInt32.self).bigEndian
            live[logID, default: 0] += Int(length)
            return true
        }
        return live
    }

    /// Every ledger with a state record, in order.
    func ledgerIDs() throws(StorageError) -> [UInt64] {
        var ids: [UInt64] = []
        try self.database.scan(from: Self.ledgerKey(0), to: [UInt8(ascii: "m")]) { key, _ in
            var reader = BytesReader(Array(key.dropFirst()))
            if let id = reader.read(UInt64.self) { ids.append(id) }
            return true
        }
        return ids
    }

    static let checkpointKey: [UInt8] = [UInt8(ascii: "c")]

    static func lastLogKey(_ directory: Int) -> [UInt8] {
        [UInt8(ascii: "n"), UInt8(directory)]
    }

    static func entryKey(_ ledgerID: UInt64, _ entryID: UInt64) -> [UInt8] {
        var key = Bytes()
        key.append(UInt8(ascii: "e"))
        key.append(ledgerID)
        key.append(entryID)
        return key.bytes
    }

    static func ledgerKey(_ ledgerID: UInt64) -> [UInt8] {
        var key = Bytes()
        key.append(UInt8(ascii: "l"))
        key.append(ledgerID)
        return key.bytes
    }
}

/// Big-endian encoding into a byte array.
struct Bytes {
    var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { self.bytes.append(contentsOf: $0) }
    }
}

/// Big-endian decoding from a byte array.
struct BytesReader {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { self.index == self.bytes.count }

    mutating func read<T: FixedWidthInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard self.bytes.count - self.index >= size else { return nil }
        defer { self.index += size }
        return self.bytes[self.index..<(self.index + size)].reduce(T.zero) { $0 << 8 | T($1) }
    }

    mutating func readBytes(_ count: Int) -> [UInt8]? {
        guard self.bytes.count - self.index >= count else { return nil }
        defer { self.index += count }
        return Array(self.bytes[self.index..<(self.index + count)])
    }
}

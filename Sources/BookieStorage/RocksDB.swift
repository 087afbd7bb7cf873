import CRocksDB
import Foundation

/// A RocksDB database through its C API: the bookie's index. RocksDB's handles are safe to
/// use from several threads at once.
final class RocksDB: @unchecked Sendable {
    private let handle: OpaquePointer
    private let writeOptions: OpaquePointer
    private let syncWriteOptions: OpaquePointer
    private let readOptions: OpaquePointer
    let path: String

    init(path: String) throws(StorageError) {
        let options = rocksdb_options_create()!
        defer { rocksdb_options_destroy(options) }
        rocksdb_options_set_create_if_missing(options, 1)
        rocksdb_options_increase_parallelism(options, 2)
        // Each open starts a new info log; keep a few, not one per start for ever.
        rocksdb_options_set_keep_log_file_num(options, 10)
        rocksdb_options_set_max_log_file_size(options, 16 << 20)
        var error: UnsafeMutablePointer<CChar>?
        guard let handle = rocksdb_open(options, path, &error) else {
            throw StorageError(.io, "cannot open the index at \(path): \(Self.consume(error))")
        }
        self.handle = handle
        self.path = path
        self.writeOptions = rocksdb_writeoptions_create()
        self.syncWriteOptions = rocksdb_writeoptions_create()
        rocksdb_writeoptions_set_sync(self.syncWriteOptions, 1)
        self.readOptions = rocksdb_readoptions_create()
    }

    private var closed = false

    /// Closes the database, releasing its lock so that it can be opened again. No call may
    /// follow, or run concurrently.
    func close() {
        guard !self.closed else { return }
        self.closed = true
        rocksdb_close(self.handle)
    }

    deinit {
        rocksdb_writeoptions_destroy(self.writeOptions)
        rocksdb_writeoptions_destroy(self.syncWriteOptions)
        rocksdb_readoptions_destroy(self.readOptions)
        self.close()
    }

    func get(_ key: [UInt8]) throws(StorageError) -> [UInt8]? {
        var length = 0
        var error: UnsafeMutablePointer<CChar>?
        let value = key.withUnsafeBufferPointer { key in
            key.withMemoryRebound(to: CChar.self) { rocksdb_get(self.handle, self.readOptions, $0.baseAddress, $0.count, &length, &error) }
        }
        if let error { throw StorageError(.io, "index read failed: \(Self.consume(error))") }
        guard let value else { return nil }
        defer { rocksdb_free(value) }
        return Array(UnsafeRawBufferPointer(start: value, count: length))
    }

    /// Applies `batch` atomically; with `sync`, it is on disk when this returns.
    func write(_ batch: WriteBatch, sync: Bool) throws(StorageError) {
        var error: UnsafeMutablePointer<CChar>?
        rocksdb_write(self.handle, sync ? self.syncWriteOptions : self.writeOptions, batch.handle, &error)
        if let error { throw StorageError(.io, "index write failed: \(Self.consume(error))") }
    }

    /// Calls `visit` for each key in `[start, end)` in order until it returns false.
    func scan(from start: [UInt8], to end: [UInt8], _ visit: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws(StorageError) -> Bool) throws(StorageError) {
        let iterator = rocksdb_create_iterator(self.handle, self.readOptions)!
        defer { rocksdb_iter_destroy(iterator) }
        start.withUnsafeBufferPointer { key in
            key.withMemoryRebound(to: CChar.self) { rocksdb_iter_seek(iterator, $0.baseAddress, $0.count) }
        }
        while rocksdb_iter_valid(iterator) != 0 {
            var keyLength = 0
            var valueLength = 0
            let key = UnsafeRawBufferPointer(start: rocksdb_iter_key(iterator, &keyLength), count: keyLength)
            guard key.lexicographicallyPrecedes(end) else { break }
            let value = UnsafeRawBufferPointer(start: rocksdb_iter_value(iterator, &valueLength), count: valueLength)
            guard try visit(key, value) else { return }
            rocksdb_iter_next(iterator)
        }
        var error: UnsafeMutablePointer<CChar>?
        rocksdb_iter_get_error(iterator, &error)
        if let error { throw StorageError(.io, "index scan failed: \(Self.consume(error))") }
    }

    /// The last key at or before `limit` that starts with `prefix`.
    func lastKey(withPrefix prefix: [UInt8], atMost limit: [UInt8]) throws(StorageError) -> [UInt8]? {
        let iterator = rocksdb_create_iterator(self.handle, self.readOptions)!
        defer { rocksdb_iter_destroy(iterator) }
        limit.withUnsafeBufferPointer { key in
            key.withMemoryRebound(to: CChar.self) { rocksdb_iter_seek_for_prev(iterator, $0.baseAddress, $0.count) }
        }
        guard rocksdb_iter_valid(iterator) != 0 else { return nil }
        var keyLength = 0
        let key = Array(UnsafeRawBufferPointer(start: rocksdb_iter_key(iterator, &keyLength), count: keyLength))
        return key.starts(with: prefix) ? key : nil
    }

    private static func consume(_ error: UnsafeMutablePointer<CChar>?) -> String {
        guard let error else { return "unknown error" }
        defer { rocksdb_free(error) }
        return String(cString: error)
    }
}

/// Changes applied to a ``RocksDB`` together.
final class WriteBatch {
    let handle: OpaquePointer = rocksdb_writebatch_create()

    deinit { rocksdb_writebatch_destroy(self.handle) }

    func put(_ key: [UInt8], _ value: [UInt8]) {
        key.withUnsafeBytes { key in
            value.withUnsafeBytes { value in self.put(key, value) }
        }
    }

    func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        rocksdb_writebatch_put(
            self.handle, key.baseAddress?.assumingMemoryBound(to: CChar.self), key.count,
            value.baseAddress?.assumingMemoryBound(to: CChar.self), value.count
        )
    }

    func delete(_ key: [UInt8]) {
        key.withUnsafeBufferPointer { key in
            key.withMemoryRebound(to: CChar.self) { rocksdb_writebatch_delete(self.handle, $0.baseAddress, $0.count) }
        }
    }

    /// Deletes every key in `[start, end)`.
    func deleteRange(_ start: [UInt8], _ end: [UInt8]) {
        start.withUnsafeBufferPointer { start in
            end.withUnsafeBufferPointer { end in
                start.withMemoryRebound(to: CChar.self) { start in
                    end.withMemoryRebound(to: CChar.self) { end in
                        rocksdb_writebatch_delete_range(self.handle, start.baseAddress, start.count, end.baseAddress, end.count)
                    }
                }
            }
        }
    }

    var count: Int { Int(rocksdb_writebatch_count(self.handle)) }
}

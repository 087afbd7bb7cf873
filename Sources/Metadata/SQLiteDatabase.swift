internal import CSQLite

/// A value bound to or read from a SQL statement.
enum SQLiteValue: Hashable {
    case integer(Int64)
    case text(String)
    case blob([UInt8])
    case null

    var integer: Int64? {
        if case .integer(let value) = self { value } else { nil }
    }

    var text: String? {
        if case .text(let value) = self { value } else { nil }
    }

    var bytes: [UInt8] {
        switch self {
        case .blob(let value): value
        case .text(let value): Array(value.utf8)
        case .integer, .null: []
        }
    }
}

/// One SQLite connection with a statement cache. Not thread-safe: its owner confines it
/// to one thread.
final class SQLiteDatabase {
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    let path: String

    /// Opens (creating if needed) the database at `path` in WAL mode with a busy timeout,
    /// so that several processes can share the file.
    init(path: String, busyTimeout: Duration) throws(MetadataError) {
        self.path = path
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &self.handle, flags, nil)
        guard status == SQLITE_OK else {
            let message = self.handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(self.handle)
            self.handle = nil
            throw MetadataError(.unavailable, "cannot open SQLite database \(path): \(message)")
        }
        let milliseconds = busyTimeout.components.seconds * 1000 + busyTimeout.components.attoseconds / 1_000_000_000_000_000
        sqlite3_busy_timeout(self.handle, Int32(clamping: milliseconds))
    }

    deinit {
        for statement in self.statements.values {
            sqlite3_finalize(statement)
        }
        sqlite3_close_v2(self.handle)
    }

    /// Runs one or more statements that return no rows.
    func execute(_ sql: String) throws(MetadataError) {
        var message: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(self.handle, sql, nil, nil, &message)
        if status != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? "status \(status)"
            sqlite3_free(message)
            throw self.error(status, text)
        }
    }

    /// Runs `sql` with `arguments` and returns every row it produces.
    @discardableResult
    func query(_ sql: String, _ arguments: SQLiteValue...) throws(MetadataError) -> [[SQLiteValue]] {
        let statement = try self.prepare(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (index, argument) in arguments.enumerated() {
            let position = Int32(index + 1)
            let status: Int32
            switch argument {
            case .integer(let value):
                status = sqlite3_bind_int64(statement, position, value)
            case .text(let value):
                status = sqlite3_bind_text(statement, position, value, -1, Self.transient)
            case .blob(let value):
                status = value.withUnsafeBytes {
                    sqlite3_bind_blob(statement, position, $0.baseAddress, Int32($0.count), Self.transient)
                }
            case .null:
                status = sqlite3_bind_null(statement, position)
            }
            guard status == SQLITE_OK else { throw self.error(status, "cannot bind argument \(position)") }
        }
        var rows: [[SQLiteValue]] = []
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { return rows }
            guard status == SQLITE_ROW else { throw self.error(status, String(cString: sqlite3_errmsg(self.handle))) }
            rows.append((0..<sqlite3_column_count(statement)).map { self.column(statement, $0) })
        }
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { Int(sqlite3_changes(self.handle)) }

    /// The rowid of the last INSERT.
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(self.handle) }

    /// Runs `body` in a write transaction taken up front (`BEGIN IMMEDIATE`), so that
    /// concurrent writers in other processes wait for the busy timeout instead of failing
    /// mid-transaction. Rolls back when `body` throws.
    func writeTransaction<T>(_ body: () throws(MetadataError) -> T) throws(MetadataError) -> T {
        try self.execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try self.execute("COMMIT")
            return result
        } catch {
            try? self.execute("ROLLBACK")
            throw error
        }
    }

    private func prepare(_ sql: String) throws(MetadataError) -> OpaquePointer {
        if let cached = self.statements[sql] { return cached }
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v3(self.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard status == SQLITE_OK, let statement else {
            throw self.error(status, "cannot prepare '\(sql)': \(String(cString: sqlite3_errmsg(self.handle)))")
        }
        self.statements[sql] = statement
        return statement
    }

    private func column(_ statement: OpaquePointer, _ index: Int32) -> SQLiteValue {
        switch sqlite3_column_type(statement, index) {
        case SQLITE_INTEGER:
            return .integer(sqlite3_column_int64(statement, index))
        case SQLITE_TEXT:
            return .text(String(cString: sqlite3_column_text(statement, index)))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(statement, index))
            guard count > 0, let base = sqlite3_column_blob(statement, index) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: base, count: count)))
        default:
            return .null
        }
    }

    private func error(_ status: Int32, _ message: String) -> MetadataError {
        let primary = status & 0xFF
        if primary == SQLITE_BUSY || primary == SQLITE_LOCKED {
            var locked = MetadataError(.unavailable, "SQLite database \(self.path) stayed locked: \(message)")
            locked.locked = true
            return locked
        }
        return MetadataError(.unavailable, "SQLite error \(status) on \(self.path): \(message)")
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}

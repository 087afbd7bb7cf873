import Foundation
import Ledger
import Logging
import Metadata

extension ManagedLedger {
    /// Opens or creates the durable cursor `name`, stored at
    /// `/managed-ledgers/<ledger>/cursors/<name>`. A new cursor starts at `initialPosition`
    /// (latest: at ``lastConfirmed``; earliest: before ``firstPosition``) and is stored at
    /// once. Opening an open cursor again returns the same object.
    public func openCursor(_ name: String, initialPosition: InitialPosition) async throws -> ManagedCursor {
        guard !name.isEmpty else { throw ManagedLedgerError(.invalidArgument, "a cursor needs a name") }
        try self.checkOpen()
        if let cursor = self.state.cursors[name] { return cursor }
        let key = self.cursorKey(name)
        var cursor: ManagedCursor
        do {
            if let stored = try await self.metadata.get(key) {
                cursor = ManagedCursor(
                    name: name, key: key, ledger: self, record: try ManagedCursor.record(stored, key: key), version: stored.version
                )
            } else {
                let markDelete = initialPosition == .latest ? self.lastConfirmed : self.firstPosition.previousInLedger
                let record = ManagedCursor.Record(markDelete: markDelete, acked: [])
                let version = try await self.metadata.put(key, value: try record.encoded(), expecting: .absent)
                cursor = ManagedCursor(name: name, key: key, ledger: self, record: record, version: version)
            }
        } catch let error as MetadataError where error.code == .alreadyExists {
            return try await self.openCursor(name, initialPosition: initialPosition)  // Created meanwhile.
        } catch {
            throw ManagedLedgerError.from(error, "opening cursor \(name) of \(self.name)")
        }
        if let existing = self.state.cursors[name] { return existing }
        self.state.cursors[name] = cursor
        return cursor
    }

    /// Deletes the cursor `name` and its stored state. Deleting a cursor that does not
    /// exist does nothing.
    public func deleteCursor(_ name: String) async throws {
        let cursor = self.state.cursors.removeValue(forKey: name)
        await cursor?.markDeleted()
        do {
            try await self.metadata.delete(self.cursorKey(name))
        } catch let error as MetadataError where error.code == .notFound {
            return
        } catch {
            throw ManagedLedgerError.from(error, "deleting cursor \(name) of \(self.name)")
        }
    }

    /// The cursors open on this log.
    public var cursors: [ManagedCursor] { Array(self.state.cursors.values) }

    nonisolated func cursorKey(_ name: String) -> String {
        ClusterLayout.cursor(Self.encodeCursorName(name), of: self.name)
    }

    /// Keeps cursor names one path component: `%` and `/` are percent-encoded.
    static func encodeCursorName(_ name: String) -> String {
        name.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "/", with: "%2F")
    }

    static func decodeCursorName(_ encoded: String) -> String {
        encoded.replacingOccurrences(of: "%2F", with: "/").replacingOccurrences(of: "%25", with: "%")
    }

    func checkOpen() throws {
        switch self.state.phase {
        case .closed: throw ManagedLedgerError(.closed, "managed ledger \(self.name) is closed")
        case .fenced(let error): throw error
        case .ready, .rolling: return
        }
    }

    /// Loads every stored cursor and rewrites it by CAS: from then on the previous owner's
    /// cursor updates fail with a version conflict.
    func loadCursors() async throws {
        for encoded in try await self.metadata.children(of: "\(self.key)/cursors") {
            let name = Self.decodeCursorName(encoded)
            let key = self.cursorKey(name)
            while true {
                guard let stored = try await self.metadata.get(key) else { break }
                do {
                    let version = try await self.metadata.putReconciled(key, value: stored.value, expecting: .version(stored.version))
                    let record = try ManagedCursor.record(stored, key: key)
                    self.state.cursors[name] = ManagedCursor(name: name, key: key, ledger: self, record: record, version: version)
                    break
                } catch let error as MetadataError where error.code == .badVersion {
                    continue  // The previous owner persisted meanwhile: take the newer state.
                }
            }
        }
    }

    // MARK: Trimming

    /// Removes from the list (CAS) the ledgers before the current one that the retention
    /// rule lets go (``RetentionRule``): every entry at or before every cursor's
    /// mark-delete position, both as persisted and as it is now, and past retention. Then
    /// deletes them (best effort: a ledger left behind only wastes space). With no
    /// cursors, retention alone decides.
    ///
    /// The persisted position guards what a restart would read from; the current one what
    /// a seek moved back to before persisting (the stored position is then stale and ahead).
    func trimConsumedLedgers() async {
        await self.listLock.lock()
        defer { self.listLock.unlock() }
        guard case .ready = self.state.phase else { return }
        let positions = self.state.cursors.values.map { cursor in
            cursor.assumeIsolated { min($0.persistedMarkDeletePosition, $0.markDeletePosition) }
        }
        let count = self.state.retention.deletable(self.state.ledgers, slowest: positions.min(), now: LedgerInfo.now)
        let removed = Array(self.state.ledgers[..<count])
        guard !removed.isEmpty else { return }
        do {
            self.state.version = try await self.storeList(Array(self.state.ledgers[count...]), expecting: self.state.version)
            self.state.ledgers.removeFirst(removed.count)
            for info in removed {
                self.state.readers[info.id] = nil
                self.state.cache.removeLedger(info.id)
            }
        } catch {
            let failure = ManagedLedgerError.from(error, "trimming managed ledger \(self.name)")
            self.logger.warning("trimming failed", metadata: ["name": "\(self.name)", "error": "\(failure)"])
            if failure.code == .fenced, case .ready = self.state.phase { self.state.phase = .fenced(failure) }
            return
        }
        self.logger.info("trimmed consumed ledgers", metadata: ["name": "\(self.name)", "ledgers": "\(removed.map(\.id))"])
        for info in removed {
            do {
                try await self.client.deleteLedger(info.id)
            } catch {
                self.logger.warning("deleting a trimmed ledger failed", metadata: ["ledger": "\(info.id)", "error": "\(error)"])
            }
        }
    }
}

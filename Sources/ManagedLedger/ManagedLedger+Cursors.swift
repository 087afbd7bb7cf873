import Foundation
import Ledger
import Logging
import Metadata
import Synchronization

extension ManagedLedger {
    /// Opens or creates the durable cursor `name`, stored at
    /// `/managed-ledgers/<ledger>/cursors/<name>`. A new cursor starts at `initialPosition`
    /// (latest: at ``lastConfirmed``; earliest: before ``firstPosition``) and is stored at
    /// once. Opening an open cursor again returns the same object.
    public func openCursor(_ name: String, initialPosition: InitialPosition) async throws -> ManagedCursor {
        guard !name.isEmpty else { throw ManagedLedgerError(.invalidArgument, "a cursor needs a name") }
        try self.checkOpen()
        if let cursor = self.state.withLock({ $0.cursors[name] }) { return cursor }
        let key = self.cursorKey(name)
        var cursor: ManagedCursor
        do {
            if let stored = try await self.metadata.get(key) {
                cursor = try ManagedCursor(name: name, key: key, ledger: self, stored: stored)
            } else {
                let markDelete = self.state.withLock { state in
                    switch initialPosition {
                    case .latest: state.lastConfirmed
                    case .earliest: state.normalized(Position(ledgerID: state.ledgers[0].id, entryID: 0)).previousInLedger
                    }
                }
                let record = ManagedCursor.Record(markDelete: markDelete, acked: [])
                let version = try await self.metadata.put(key, value: try record.encoded(), expecting: .absent)
                cursor = ManagedCursor(name: name, key: key, ledger: self, record: record, version: version)
            }
        } catch let error as MetadataError where error.code == .alreadyExists {
            return try await self.openCursor(name, initialPosition: initialPosition)  // Created meanwhile.
        } catch {
            throw ManagedLedgerError.from(error, "opening cursor \(name) of \(self.name)")
        }
        return self.state.withLock { state in
            if let existing = state.cursors[name] { return existing }
            state.cursors[name] = cursor
            return cursor
        }
    }

    /// Deletes the cursor `name` and its stored state. Deleting a cursor that does not
    /// exist does nothing.
    public func deleteCursor(_ name: String) async throws {
        let cursor = self.state.withLock { $0.cursors.removeValue(forKey: name) }
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
    public var cursors: [ManagedCursor] { self.state.withLock { Array($0.cursors.values) } }

    func cursorKey(_ name: String) -> String {
        "\(self.key)/cursors/\(Self.encodeCursorName(name))"
    }

    /// Keeps cursor names one path component: `%` and `/` are percent-encoded.
    static func encodeCursorName(_ name: String) -> String {
        name.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "/", with: "%2F")
    }

    static func decodeCursorName(_ encoded: String) -> String {
        encoded.replacingOccurrences(of: "%2F", with: "/").replacingOccurrences(of: "%25", with: "%")
    }

    func checkOpen() throws {
        try self.state.withLock { state in
            switch state.phase {
            case .closed: throw ManagedLedgerError(.closed, "managed ledger \(self.name) is closed")
            case .fenced(let error): throw error
            case .ready, .rolling: return
            }
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
                    let version = try await self.metadata.put(key, value: stored.value, expecting: .version(stored.version))
                    let cursor = try ManagedCursor(name: name, key: key, ledger: self, stored: Versioned(value: stored.value, version: version))
                    self.state.withLock { $0.cursors[name] = cursor }
                    break
                } catch let error as MetadataError where error.code == .badVersion {
                    continue  // The previous owner persisted meanwhile: take the newer state.
                }
            }
        }
    }

    // MARK: Trimming

    /// Removes from the list (CAS) the ledgers before the current one whose every entry is
    /// at or before every cursor's persisted mark-delete position, then deletes them (best
    /// effort: a ledger left behind only wastes space). With no cursors, nothing is trimmed.
    func trimConsumedLedgers() async {
        await self.listLock.lock()
        defer { self.listLock.unlock() }
        let cursors = self.state.withLock { state -> [ManagedCursor] in
            guard case .ready = state.phase else { return [] }
            return Array(state.cursors.values)
        }
        guard let slowest = cursors.map(\.persistedMarkDeletePosition).min() else { return }
        let (removed, kept, version) = self.state.withLock { state in
            var count = 0
            while count < state.ledgers.count - 1 {
                let info = state.ledgers[count]
                guard info.id < slowest.ledgerID || (info.id == slowest.ledgerID && slowest.entryID >= info.entries - 1) else { break }
                count += 1
            }
            return (Array(state.ledgers[..<count]), Array(state.ledgers[count...]), state.version)
        }
        guard !removed.isEmpty else { return }
        do {
            let stored = try await self.storeList(kept, expecting: version)
            self.state.withLock { state in
                state.version = stored
                state.ledgers.removeFirst(removed.count)
                for info in removed {
                    state.readers[info.id] = nil
                    state.cache.removeLedger(info.id)
                }
            }
        } catch {
            let failure = ManagedLedgerError.from(error, "trimming managed ledger \(self.name)")
            self.logger.warning("trimming failed", metadata: ["name": "\(self.name)", "error": "\(failure)"])
            if failure.code == .fenced {
                self.state.withLock { state in
                    if case .ready = state.phase { state.phase = .fenced(failure) }
                }
            }
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

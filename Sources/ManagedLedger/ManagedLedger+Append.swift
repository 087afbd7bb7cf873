public import NIOCore
import Ledger
import Logging
import Metadata
import Synchronization

extension ManagedLedger {
    /// Appends one entry (a Pulsar batch, already encoded); returns its position once
    /// confirmed by an ack quorum.
    public func append(_ entry: ByteBuffer) async throws -> Position {
        try await withCheckedThrowingContinuation { continuation in
            self.append(entry) { continuation.resume(with: $0) }
        }
    }

    /// Appends one entry; `completion` runs on the ledger client's event loop once it is
    /// confirmed or failed. Completions run in the order of the calls (calls from several
    /// threads are ordered as they reach the loop).
    public func append(_ entry: ByteBuffer, completion: @escaping AppendCompletion) {
        if self.eventLoop.inEventLoop {
            self.submit(entry, completion)
        } else {
            self.eventLoop.execute { self.submit(entry, completion) }
        }
    }

    private enum Submission {
        case fail(ManagedLedgerError)
        case queued(startRollover: Bool)
        case write(LedgerWriter)
    }

    /// On the event loop: hands the entry to the current writer, or queues it while the
    /// next ledger is being made.
    func submit(_ entry: ByteBuffer, _ completion: @escaping AppendCompletion) {
        let limits = self.configuration
        let submission = self.state.withLock { state -> Submission in
            switch state.phase {
            case .closed:
                return .fail(ManagedLedgerError(.closed, "managed ledger \(self.name) is closed"))
            case .fenced(let error):
                return .fail(error)
            case .rolling:
                state.queue.append((entry, completion))
                return .queued(startRollover: false)
            case .ready:
                guard let writer = state.writer, !state.writeFailed, state.submittedEntries < limits.maxEntriesPerLedger,
                    state.submittedBytes < limits.maxSizePerLedger, ContinuousClock.now - state.ledgerStarted < limits.maxLedgerAge
                else {
                    state.phase = .rolling
                    state.queue.append((entry, completion))
                    return .queued(startRollover: true)
                }
                state.submittedEntries += 1
                state.submittedBytes += entry.readableBytes
                return .write(writer)
            }
        }
        switch submission {
        case .fail(let error):
            completion(.failure(error))
        case .queued(let startRollover):
            if startRollover { Task { await self.rollOver() } }
        case .write(let writer):
            let ledgerID = writer.ledgerID
            writer.append(entry) { result in self.appended(entry, ledgerID: ledgerID, result, completion) }
        }
    }

    /// On the event loop, in entry order: records a confirmed entry, caches it and wakes
    /// tailing readers, then completes.
    private func appended(_ entry: ByteBuffer, ledgerID: Int64, _ result: Result<Int64, LedgerError>, _ completion: AppendCompletion) {
        switch result {
        case .success(let entryID):
            let position = Position(ledgerID: ledgerID, entryID: entryID)
            let woken = self.state.withLock { state -> [Waiter] in
                if let index = state.ledgers.lastIndex(where: { $0.id == ledgerID }) {
                    state.ledgers[index].entries = max(state.ledgers[index].entries, entryID + 1)
                    state.ledgers[index].size += Int64(entry.readableBytes)
                }
                state.cache.insert(entry, at: position)
                guard !state.waiters.isEmpty else { return [] }
                var woken: [Waiter] = []
                for (id, waiter) in state.waiters where waiter.position < position {
                    woken.append(waiter)
                    state.waiters[id] = nil
                }
                return woken
            }
            for waiter in woken {
                waiter.timeout?.cancel()
                waiter.continuation.resume(returning: true)
            }
            completion(.success(position))
        case .failure(let error):
            let failure = ManagedLedgerError.from(error, "appending to ledger \(ledgerID) of \(self.name)")
            self.state.withLock { state in
                if failure.code == .fenced {
                    if case .ready = state.phase { state.phase = .fenced(failure) }
                } else if state.writer?.ledgerID == ledgerID {
                    state.writeFailed = true
                }
            }
            completion(.failure(failure))
        }
    }

    // MARK: Rollover

    /// Closes the current ledger (its pending appends complete first), creates the next,
    /// adds it to the list by CAS, and then sends it the appends queued meanwhile. On
    /// failure the queued appends fail and the next append tries again.
    func rollOver() async {
        await self.listLock.lock()
        defer { self.listLock.unlock() }
        guard let (old, config) = self.state.withLock({ state -> (LedgerWriter?, ManagedLedgerConfiguration)? in
            guard case .rolling = state.phase else { return nil }
            return (state.writer, self.configuration)
        }) else { return }
        do {
            if let old {
                let closed = try await old.close()
                self.state.withLock { state in
                    state.ledgers[state.ledgers.count - 1] = LedgerInfo(id: old.ledgerID, entries: closed.lastEntryID + 1, size: Int64(closed.length))
                    state.writer = nil
                }
            }
            let writer = try await self.client.createLedger(
                ensembleSize: config.ensembleSize, writeQuorum: config.writeQuorum, ackQuorum: config.ackQuorum,
                customMetadata: ["managed-ledger": self.name]
            )
            var (ledgers, version) = self.state.withLock { ($0.ledgers, $0.version) }
            ledgers.append(LedgerInfo(id: writer.ledgerID, entries: 0, size: 0))
            let stored: Int64
            do {
                stored = try await self.storeList(ledgers, expecting: version)
            } catch {
                try? await self.client.deleteLedger(writer.ledgerID)
                throw error
            }
            self.logger.debug("rolled over", metadata: ["name": "\(self.name)", "ledger": "\(writer.ledgerID)"])
            try await self.eventLoop.submit {
                let queue = self.state.withLock { state -> [(ByteBuffer, AppendCompletion)] in
                    state.ledgers.append(LedgerInfo(id: writer.ledgerID, entries: 0, size: 0))
                    state.version = stored
                    state.writer = writer
                    state.submittedEntries = 0
                    state.submittedBytes = 0
                    state.ledgerStarted = .now
                    state.writeFailed = false
                    guard case .rolling = state.phase else { return [] }
                    state.phase = .ready
                    let queue = state.queue
                    state.queue = []
                    return queue
                }
                for (entry, completion) in queue { self.submit(entry, completion) }
            }.get()
        } catch {
            let failure = ManagedLedgerError.from(error, "rolling over managed ledger \(self.name)")
            self.logger.warning("rollover failed", metadata: ["name": "\(self.name)", "error": "\(failure)"])
            self.eventLoop.execute {
                let queue = self.state.withLock { state -> [(ByteBuffer, AppendCompletion)] in
                    if case .rolling = state.phase {
                        state.phase = failure.code == .fenced ? .fenced(failure) : .ready
                    }
                    let queue = state.queue
                    state.queue = []
                    return queue
                }
                for (_, completion) in queue { completion(.failure(failure)) }
            }
        }
    }

    /// Writes the ledger list by CAS on `version` and returns the new version. When the
    /// store's answer is lost, reads the key back to learn whether the write happened.
    func storeList(_ ledgers: [LedgerInfo], expecting version: Int64) async throws -> Int64 {
        let value = try Self.encode(ledgers)
        do {
            return try await self.metadata.put(self.key, value: value, expecting: .version(version))
        } catch let error as MetadataError where error.code == .unavailable {
            if let current = try? await self.metadata.get(self.key), current.value == value { return current.version }
            throw error
        }
    }
}

public import NIOCore
import Ledger
import Logging
import Metadata

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
    public nonisolated func append(_ entry: ByteBuffer, completion: @escaping AppendCompletion) {
        if self.eventLoop.inEventLoop {
            self.assumeIsolated { $0.submit(entry, completion) }
        } else {
            self.eventLoop.execute { self.assumeIsolated { $0.submit(entry, completion) } }
        }
    }

    /// Hands the entry to the current writer, or queues it while the next ledger is being
    /// made.
    func submit(_ entry: ByteBuffer, _ completion: @escaping AppendCompletion) {
        let limits = self.configuration
        if self.state.terminated {
            return completion(.failure(ManagedLedgerError(.terminated, "managed ledger \(self.name) is terminated")))
        }
        switch self.state.phase {
        case .closed:
            completion(.failure(ManagedLedgerError(.closed, "managed ledger \(self.name) is closed")))
        case .fenced(let error):
            completion(.failure(error))
        case .rolling:
            self.state.queue.append((entry, completion))
        case .ready:
            guard let writer = self.state.writer, self.state.submittedEntries < limits.maxEntriesPerLedger,
                self.state.submittedBytes < limits.maxSizePerLedger, ContinuousClock.now - self.state.ledgerStarted < limits.maxLedgerAge
            else {
                self.state.phase = .rolling
                self.state.queue.append((entry, completion))
                Task { await self.rollOver() }
                return
            }
            self.state.submittedEntries += 1
            self.state.submittedBytes += entry.readableBytes
            let ledgerID = writer.ledgerID
            // The writer completes on its loop, this actor's executor.
            writer.append(entry) { result in self.assumeIsolated { $0.appended(entry, ledgerID: ledgerID, result, completion) } }
        }
    }

    /// On the event loop, in entry order: records a confirmed entry, caches it and wakes
    /// tailing readers, then completes.
    private func appended(_ entry: ByteBuffer, ledgerID: Int64, _ result: Result<Int64, LedgerError>, _ completion: AppendCompletion) {
        switch result {
        case .success(let entryID):
            let position = Position(ledgerID: ledgerID, entryID: entryID)
            if let index = self.state.ledgers.lastIndex(where: { $0.id == ledgerID }) {
                self.state.ledgers[index].entries = max(self.state.ledgers[index].entries, entryID + 1)
                self.state.ledgers[index].size += Int64(entry.readableBytes)
            }
            self.state.cache.insert(entry, at: position)
            if !self.state.waiters.isEmpty {
                for (id, waiter) in self.state.waiters where waiter.position < position {
                    self.state.waiters[id] = nil
                    waiter.timeout?.cancel()
                    waiter.continuation.resume(returning: true)
                }
            }
            completion(.success(position))
        case .failure(let error):
            let failure = ManagedLedgerError.from(error, "appending to ledger \(ledgerID) of \(self.name)")
            self.fence(failure)
            completion(.failure(failure))
        }
    }

    /// After any write failure: no later append may be stored before the one that failed,
    /// so every queued and later append fails with `failure` until the log is opened again
    /// (its owner closes it and reopens: the reopen recovers the last ledger). A log that
    /// is closed stays closed.
    func fence(_ failure: ManagedLedgerError) {
        switch self.state.phase {
        case .closed, .fenced: break
        case .ready, .rolling:
            self.state.phase = .fenced(failure)
            self.logger.warning("managed ledger fenced after a write failure", metadata: ["name": "\(self.name)", "error": "\(failure)"])
        }
        let queue = self.state.queue
        self.state.queue = []
        for (_, completion) in queue { completion(.failure(failure)) }
    }

    // MARK: Rollover

    /// Closes the current ledger (its pending appends complete first), creates the next,
    /// adds it to the list by CAS, and then sends it the appends queued meanwhile. On
    /// failure the log is fenced: the queued appends and every later one fail.
    func rollOver() async {
        await self.listLock.lock()
        defer { self.listLock.unlock() }
        guard case .rolling = self.state.phase else { return }
        let config = self.configuration
        do {
            if let old = self.state.writer {
                let closed = try await old.close()
                self.state.ledgers[self.state.ledgers.count - 1] = LedgerInfo(
                    id: old.ledgerID, entries: closed.lastEntryID + 1, size: Int64(closed.length), timestamp: LedgerInfo.now
                )
                self.state.writer = nil
            }
            let writer = try await self.client.createLedger(
                ensembleSize: config.ensembleSize, writeQuorum: config.writeQuorum, ackQuorum: config.ackQuorum,
                customMetadata: ["managed-ledger": self.name]
            )
            let ledgers = self.state.ledgers + [LedgerInfo(id: writer.ledgerID, entries: 0, size: 0)]
            let stored: Int64
            do {
                stored = try await self.storeList(ledgers, expecting: self.state.version)
            } catch {
                try? await self.client.deleteLedger(writer.ledgerID)
                throw error
            }
            self.logger.debug("rolled over", metadata: ["name": "\(self.name)", "ledger": "\(writer.ledgerID)"])
            self.state.ledgers.append(LedgerInfo(id: writer.ledgerID, entries: 0, size: 0))
            self.state.version = stored
            self.state.writer = writer
            self.state.submittedEntries = 0
            self.state.submittedBytes = 0
            self.state.ledgerStarted = .now
            // Fenced meanwhile (an append to the old ledger failed): `fence` failed the queue.
            guard case .rolling = self.state.phase else { return }
            self.state.phase = .ready
            let queue = self.state.queue
            self.state.queue = []
            for (entry, completion) in queue { self.submit(entry, completion) }
        } catch {
            let failure = ManagedLedgerError.from(error, "rolling over managed ledger \(self.name)")
            self.logger.warning("rollover failed", metadata: ["name": "\(self.name)", "error": "\(failure)"])
            self.fence(failure)
        }
    }

    /// Writes the ledger list by CAS on `version` and returns the new version. When the
    /// store's answer is lost, reads the key back to learn whether the write happened.
    func storeList(_ ledgers: [LedgerInfo], properties: [String: String]? = nil, expecting version: Int64) async throws -> Int64 {
        let value = try Self.encode(ledgers, terminated: self.state.terminated, properties: properties ?? self.state.properties)
        return try await self.metadata.putReconciled(self.key, value: value, expecting: .version(version))
    }

    /// Whether the log was terminated.
    public var isTerminated: Bool { self.state.terminated }

    /// Terminates the log: from now on every append fails with ``ManagedLedgerError/Code/terminated``,
    /// for every owner (it is stored in the ledger list). Appends already submitted are
    /// confirmed first (waiting up to 10 s). Returns the last confirmed position.
    /// Terminating again returns the same position.
    public func terminate() async throws -> Position {
        try self.checkOpen()
        guard !self.state.terminated else { return self.lastConfirmed }
        self.state.terminated = true
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline, case .ready = self.state.phase,
            self.state.ledgers[self.state.ledgers.count - 1].entries < self.state.submittedEntries
        {
            try await Task.sleep(for: .milliseconds(5))
        }
        await self.listLock.lock()
        defer { self.listLock.unlock() }
        do {
            self.state.version = try await self.storeList(self.state.ledgers, expecting: self.state.version)
        } catch {
            throw ManagedLedgerError.from(error, "terminating managed ledger \(self.name)")
        }
        self.logger.info("terminated managed ledger", metadata: ["name": "\(self.name)", "last": "\(self.lastConfirmed)"])
        return self.lastConfirmed
    }
}

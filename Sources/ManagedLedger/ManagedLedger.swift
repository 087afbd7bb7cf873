import Foundation
public import Ledger
public import Logging
public import Metadata
public import NIOCore

/// A topic's log: a list of ledgers, the last one open for appends, stored at
/// `/managed-ledgers/<name>` as JSON `{"ledgers":[{"id":…,"entries":…,"size":…}]}` and
/// changed only by compare-and-set, plus the durable cursors of its subscriptions.
///
/// Guarantees:
/// - appends are confirmed in order and their completions run in that order, on the
///   ledger client's event loop; a confirmed entry stays readable until every cursor has
///   consumed its whole ledger;
/// - opening a log fences its previous owner: that owner's further appends fail with
///   ``ManagedLedgerError/Code/fenced``, and so do its ledger-list and cursor updates;
/// - after any write failure (an append, a rollover) no later append succeeds: they all
///   fail until the log is opened again, so nothing sent after a failed entry is stored
///   before the sender resends that entry (see ``isFenced``);
/// - the ledger list always names every ledger that holds a confirmed entry (a new ledger
///   is added by CAS before anything is written to it).
///
/// Appends take no metadata call: the list changes only on rollover, trimming and close.
/// The actor's executor is the ledger client's event loop, where the ledger writer runs
/// and its completions arrive: appends, their completions, reads from the entry cache and
/// the cursors (whose executor is the same loop) touch the state without a lock or a hop.
/// A caller already on that loop (a topic whose executor it is) enters without a switch.
public actor ManagedLedger {
    public typealias AppendCompletion = @Sendable (Result<Position, any Error>) -> Void

    /// One ledger of the log, as stored in the list. For the open ledger, `entries` and
    /// `size` count what is confirmed so far (stored as what was known at the last update).
    public struct LedgerInfo: Codable, Hashable, Sendable {
        public var id: Int64
        public var entries: Int64
        public var size: Int64
        /// When the ledger was closed, in milliseconds since 1970 (nil while it is open, and
        /// for ledgers listed before closing times were kept). Retention by time reads it.
        public var timestamp: Int64?

        public init(id: Int64, entries: Int64, size: Int64, timestamp: Int64? = nil) {
            self.id = id
            self.entries = entries
            self.size = size
            self.timestamp = timestamp
        }

        /// The time now, as ``timestamp`` keeps it.
        static var now: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
    }

    struct LedgerList: Codable {
        var ledgers: [LedgerInfo]
        /// Set once the log is terminated: it takes no more appends, ever.
        var terminated: Bool?
        /// Named values its owners keep with the log (see ``updateProperties(_:)``).
        var properties: [String: String]?
    }

    enum Phase {
        case ready
        /// Closing the current ledger and creating the next; appends wait in `queue`.
        case rolling
        case closed
        /// Taken over by another owner, or a write failed: every append fails with this
        /// error until the log is opened again.
        case fenced(ManagedLedgerError)
    }

    struct Waiter {
        var position: Position
        var continuation: CheckedContinuation<Bool, Never>
        var timeout: Scheduled<Void>?
    }

    struct State {
        /// The last one is the current ledger; never empty.
        var ledgers: [LedgerInfo]
        var version: Int64
        /// The writer of the last ledger while it is open.
        var writer: LedgerWriter?
        var phase = Phase.ready
        var queue: [(ByteBuffer, AppendCompletion)] = []
        /// Entries and bytes handed to `writer`, confirmed or not: what rollover goes by.
        var submittedEntries = 0
        var submittedBytes = 0
        var ledgerStarted = ContinuousClock.now
        var cache: EntryCache
        var waiters: [UInt64: Waiter] = [:]
        var nextWaiterID: UInt64 = 0
        var cursors: [String: ManagedCursor] = [:]
        /// Readers of closed ledgers, opened on first read.
        var readers: [Int64: LedgerReader] = [:]
        var timer: RepeatedTask?
        /// The log takes no more appends (see ``ManagedLedger/terminate()``).
        var terminated = false
        /// Named values kept with the ledger list (see ``ManagedLedger/updateProperties(_:)``).
        var properties: [String: String] = [:]
        /// Which consumed ledgers are kept (see ``ManagedLedger/setRetention(_:)``).
        var retention = RetentionRule()

        var lastConfirmed: Position {
            let current = self.ledgers[self.ledgers.count - 1]
            return Position(ledgerID: current.id, entryID: current.entries - 1)
        }

        /// The first existing position at or after `position`; a position past every
        /// existing entry comes back in the current ledger or unchanged.
        func normalized(_ position: Position) -> Position {
            var position = Position(ledgerID: position.ledgerID, entryID: max(0, position.entryID))
            for (index, info) in self.ledgers.enumerated() where info.id >= position.ledgerID {
                if info.id > position.ledgerID { position = Position(ledgerID: info.id, entryID: 0) }
                if position.entryID < info.entries || index == self.ledgers.count - 1 { return position }
                position = Position(ledgerID: info.id + 1, entryID: 0)
            }
            return position
        }

        /// Whether an entry after `position` is confirmed (the current ledger may be empty
        /// while an earlier one has it).
        func hasEntry(after position: Position) -> Bool {
            let next = self.normalized(position.nextInLedger)
            guard let info = self.ledgers.last(where: { $0.id == next.ledgerID }) else { return false }
            return next.entryID < info.entries
        }
    }

    public nonisolated let name: String
    public nonisolated let configuration: ManagedLedgerConfiguration
    nonisolated let client: LedgerClient
    nonisolated let metadata: any MetadataStore
    nonisolated let logger: Logger
    nonisolated let key: String
    /// The loop the ledger writer runs on: the actor's executor; appends complete there.
    public nonisolated var eventLoop: any EventLoop { self.client.eventLoop }
    var state: State
    /// Serializes changes of the ledger list (rollover, trimming, close).
    let listLock = AsyncLock()
    /// A persist-and-trim pass is running.
    var ticking = false

    public nonisolated var unownedExecutor: UnownedSerialExecutor { self.eventLoop.executor.asUnownedSerialExecutor() }

    private init(
        name: String, client: LedgerClient, metadata: any MetadataStore, configuration: ManagedLedgerConfiguration, logger: Logger, state: State
    ) {
        self.name = name
        self.client = client
        self.metadata = metadata
        self.configuration = configuration
        self.logger = logger
        self.key = Self.key(name)
        self.state = state
    }

    static func key(_ name: String) -> String { ClusterLayout.managedLedger(name) }

    // MARK: Opening

    /// Opens (or creates) the log named `name` (e.g. "public/default/persistent/my-topic").
    ///
    /// Taking over: the last ledger is recovered (which fences a previous owner) and its
    /// real entry count recorded (an empty one is dropped), a new ledger is created and
    /// appended to the list by CAS, and every existing cursor is loaded and rewritten by
    /// CAS so that the previous owner's cursor updates fail too.
    public static func open(
        name: String,
        client: LedgerClient,
        metadata: any MetadataStore,
        configuration: ManagedLedgerConfiguration,
        logger: Logger = Logger(label: "managed-ledger", factory: { _ in SwiftLogNoOpLogHandler() })
    ) async throws -> ManagedLedger {
        guard !name.isEmpty, !name.hasPrefix("/"), !name.hasSuffix("/"), !name.contains("//") else {
            throw ManagedLedgerError(.invalidArgument, "'\(name)' is not a valid managed ledger name")
        }
        var attempt = 0
        while true {
            do {
                let ledger = try await Self.takeOver(name: name, client: client, metadata: metadata, configuration: configuration, logger: logger)
                try await ledger.loadCursors()
                await ledger.startTimer()
                return ledger
            } catch let error as MetadataError where (error.code == .badVersion || error.code == .alreadyExists) && attempt < 5 {
                attempt += 1  // Someone changed the list meanwhile: read it again.
                logger.info("managed ledger changed while opening; retrying", metadata: ["name": "\(name)", "error": "\(error)"])
            } catch {
                throw ManagedLedgerError.from(error, "opening managed ledger \(name)")
            }
        }
    }

    private static func takeOver(
        name: String, client: LedgerClient, metadata: any MetadataStore, configuration: ManagedLedgerConfiguration, logger: Logger
    ) async throws -> ManagedLedger {
        let key = Self.key(name)
        let stored = try await metadata.get(key)
        var ledgers: [LedgerInfo] = []
        var terminated = false
        var properties: [String: String] = [:]
        if let stored {
            do {
                let list = try JSONDecoder().decode(LedgerList.self, from: Data(stored.value))
                ledgers = list.ledgers
                terminated = list.terminated ?? false
                properties = list.properties ?? [:]
            } catch {
                throw ManagedLedgerError(.corruptMetadata, "\(key) does not hold a ledger list", cause: error)
            }
        }
        var readers: [Int64: LedgerReader] = [:]
        var dropped: Int64?
        if let last = ledgers.last {
            do {
                // A ledger its previous owner closed cleanly needs no recovery; say when one did.
                let closedBefore = try await client.readMetadata(last.id).0.state == .closed
                let reader = try await client.recoverLedger(last.id)
                if !closedBefore {
                    logger.info("recovered the last ledger of a managed ledger", metadata: ["name": "\(name)", "ledger": "\(last.id)"])
                }
                ledgers[ledgers.count - 1] = LedgerInfo(
                    id: last.id, entries: reader.metadata.lastEntryID + 1, size: Int64(reader.metadata.length), timestamp: last.timestamp ?? LedgerInfo.now
                )
                readers[last.id] = reader
            } catch let error as LedgerError where error.code == .noSuchLedger {
                ledgers[ledgers.count - 1].entries = 0
            }
            if ledgers[ledgers.count - 1].entries == 0 {
                dropped = last.id
                ledgers.removeLast()
            }
        }
        let writer = try await client.createLedger(
            ensembleSize: configuration.ensembleSize, writeQuorum: configuration.writeQuorum, ackQuorum: configuration.ackQuorum,
            customMetadata: ["managed-ledger": name]
        )
        ledgers.append(LedgerInfo(id: writer.ledgerID, entries: 0, size: 0))
        let version: Int64
        do {
            version = try await metadata.putReconciled(key, value: try Self.encode(ledgers, terminated: terminated, properties: properties), expecting: stored.map { .version($0.version) } ?? .absent)
        } catch {
            try? await client.deleteLedger(writer.ledgerID)
            throw error
        }
        if let dropped { try? await client.deleteLedger(dropped) }
        logger.info("opened managed ledger", metadata: ["name": "\(name)", "ledgers": "\(ledgers.map(\.id))"])
        var state = State(ledgers: ledgers, version: version, writer: writer, cache: EntryCache(capacity: configuration.cacheSize))
        state.readers = readers
        state.terminated = terminated
        state.properties = properties
        state.retention = configuration.retention
        return ManagedLedger(name: name, client: client, metadata: metadata, configuration: configuration, logger: logger, state: state)
    }

    static func encode(_ ledgers: [LedgerInfo], terminated: Bool = false, properties: [String: String] = [:]) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let list = LedgerList(ledgers: ledgers, terminated: terminated ? true : nil, properties: properties.isEmpty ? nil : properties)
        return Array(try encoder.encode(list))
    }

    // MARK: Positions

    /// Whether the log takes no more appends until it is opened again: another owner took
    /// it over, or a write failed.
    public var isFenced: Bool {
        if case .fenced = self.state.phase { return true }
        return false
    }

    /// The ledgers of the log, oldest first; the last is the one being written.
    public var ledgers: [LedgerInfo] { self.state.ledgers }

    /// The position after which nothing is written yet: the last confirmed position, or
    /// `(current, -1)` when the current ledger is still empty.
    public var lastConfirmed: Position { self.state.lastConfirmed }

    /// The first position that exists (for "earliest"); `(current, 0)` when the log holds
    /// no entry.
    public var firstPosition: Position {
        self.state.normalized(Position(ledgerID: self.state.ledgers[0].id, entryID: 0))
    }

    /// The position after `position`: `(ledger, entry+1)`, or the next ledger's first entry
    /// when `position` is a closed ledger's last (ledgers with no entries are skipped).
    public func next(after position: Position) -> Position {
        self.state.normalized(position.nextInLedger)
    }

    /// The existing entry before `position`, or nil when it is the first.
    public func previous(before position: Position) -> Position? {
        if position.entryID > 0, self.state.ledgers.contains(where: { $0.id == position.ledgerID }) { return position.previousInLedger }
        guard let earlier = self.state.ledgers.last(where: { $0.id < position.ledgerID && $0.entries > 0 }) else { return nil }
        return Position(ledgerID: earlier.id, entryID: earlier.entries - 1)
    }

    /// The number of existing entries `e` with `start < e ≤ end` (for backlogs:
    /// `numberOfEntries(after: markDelete, through: lastConfirmed)`).
    public func numberOfEntries(after start: Position, through end: Position) -> Int64 {
        var total: Int64 = 0
        for info in self.state.ledgers where info.id >= start.ledgerID && info.id <= end.ledgerID {
            let low = info.id == start.ledgerID ? max(0, start.entryID + 1) : 0
            let high = info.id == end.ledgerID ? min(end.entryID, info.entries - 1) : info.entries - 1
            total += max(0, high - low + 1)
        }
        return total
    }

    // MARK: Background work

    private func startTimer() {
        guard case .ready = self.state.phase else { return }
        let interval = TimeAmount.nanoseconds(Self.nanoseconds(self.configuration.cursorPersistInterval))
        self.state.timer = self.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            self.assumeIsolated { $0.tick() }
        }
    }

    /// Persists changed cursors and trims consumed ledgers, once at a time.
    private func tick() {
        guard !self.ticking else { return }
        self.ticking = true
        Task {
            for cursor in self.state.cursors.values {
                do {
                    try await cursor.persist(trimming: false)
                } catch {
                    self.logger.warning("cursor persist failed", metadata: ["name": "\(self.name)", "cursor": "\(cursor.name)", "error": "\(error)"])
                }
            }
            await self.trimConsumedLedgers()
            self.ticking = false
        }
    }

    /// Changes which consumed ledgers are kept; the next trim applies it.
    public func setRetention(_ rule: RetentionRule) {
        self.state.retention = rule
    }

    /// The retention rule in force.
    public var retention: RetentionRule { self.state.retention }

    /// Whole milliseconds of `duration`, at most Int64.max.
    static func milliseconds(_ duration: Duration) -> Int64 {
        Self.units(duration, perSecond: 1000)
    }

    /// Nanoseconds of `duration`, at most Int64.max.
    static func nanoseconds(_ duration: Duration) -> Int64 {
        Self.units(duration, perSecond: 1_000_000_000)
    }

    /// `duration` in units of which `perSecond` make a second, saturating at Int64's bounds.
    private static func units(_ duration: Duration, perSecond: Int64) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: perSecond)
        let (total, overflowAgain) = whole.addingReportingOverflow(attoseconds / (1_000_000_000_000_000_000 / perSecond))
        return overflow || overflowAgain ? (seconds < 0 ? .min : .max) : total
    }

    // MARK: Closing

    /// Persists the cursors, closes the current ledger cleanly (the next owner need not
    /// recover it) and records its size in the list. Pending appends complete first;
    /// later ones fail with `closed`. Throws the first failure, after cleaning up anyway.
    public func close() async throws {
        self.state.timer?.cancel()
        self.state.timer = nil
        if case .closed = self.state.phase { return }
        var firstError: (any Error)?
        for cursor in self.state.cursors.values {
            do { try await cursor.persist(trimming: false) } catch { firstError = firstError ?? error }
        }
        await self.listLock.lock()
        defer { self.listLock.unlock() }
        var fenced = false
        if case .fenced = self.state.phase { fenced = true }
        self.stopTakingWork(ManagedLedgerError(.closed, "managed ledger \(self.name) is closed"))
        if let writer = self.state.writer, !fenced {
            do {
                let closed = try await writer.close()
                self.state.ledgers[self.state.ledgers.count - 1] = LedgerInfo(
                    id: writer.ledgerID, entries: closed.lastEntryID + 1, size: Int64(closed.length), timestamp: LedgerInfo.now
                )
                self.state.writer = nil
                self.state.version = try await self.storeList(self.state.ledgers, expecting: self.state.version)
            } catch {
                firstError = firstError ?? ManagedLedgerError.from(error, "closing managed ledger \(self.name)")
            }
        }
        self.state.readers = [:]
        self.logger.info("closed managed ledger", metadata: ["name": "\(self.name)"])
        if let firstError { throw firstError }
    }
}

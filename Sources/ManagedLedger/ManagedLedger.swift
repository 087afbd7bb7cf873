import Foundation
public import Ledger
public import Logging
public import Metadata
public import NIOCore
import Synchronization

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
/// - the ledger list always names every ledger that holds a confirmed entry (a new ledger
///   is added by CAS before anything is written to it).
///
/// Appends take no metadata call: the list changes only on rollover, trimming and close.
/// State is behind one mutex; appends, rollovers and their completions are sequenced on
/// the ledger client's event loop. Lock order: a cursor's lock, then the ledger's.
public final class ManagedLedger: Sendable {
    public typealias AppendCompletion = @Sendable (Result<Position, any Error>) -> Void

    /// One ledger of the log, as stored in the list. For the open ledger, `entries` and
    /// `size` count what is confirmed so far (stored as what was known at the last update).
    public struct LedgerInfo: Codable, Hashable, Sendable {
        public var id: Int64
        public var entries: Int64
        public var size: Int64

        public init(id: Int64, entries: Int64, size: Int64) {
            self.id = id
            self.entries = entries
            self.size = size
        }
    }

    struct LedgerList: Codable {
        var ledgers: [LedgerInfo]
    }

    enum Phase {
        case ready
        /// Closing the current ledger and creating the next; appends wait in `queue`.
        case rolling
        case closed
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
        /// An append failed: start a new ledger at the next one.
        var writeFailed = false
        var cache: EntryCache
        var waiters: [UInt64: Waiter] = [:]
        var nextWaiterID: UInt64 = 0
        var cursors: [String: ManagedCursor] = [:]
        /// Readers of closed ledgers, opened on first read.
        var readers: [Int64: LedgerReader] = [:]
        var timer: RepeatedTask?

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
            let next = self.normalized(Position(ledgerID: position.ledgerID, entryID: position.entryID + 1))
            guard let info = self.ledgers.last(where: { $0.id == next.ledgerID }) else { return false }
            return next.entryID < info.entries
        }
    }

    public let name: String
    public let configuration: ManagedLedgerConfiguration
    let client: LedgerClient
    let metadata: any MetadataStore
    let logger: Logger
    let key: String
    /// The loop the ledger writer runs on; appends complete there.
    public var eventLoop: any EventLoop { self.client.eventLoop }
    let state: Mutex<State>
    /// Serializes changes of the ledger list (rollover, trimming, close).
    let listLock = AsyncLock()
    let ticking = Atomic(false)

    private init(
        name: String, client: LedgerClient, metadata: any MetadataStore, configuration: ManagedLedgerConfiguration, logger: Logger, state: State
    ) {
        self.name = name
        self.client = client
        self.metadata = metadata
        self.configuration = configuration
        self.logger = logger
        self.key = Self.key(name)
        self.state = Mutex(state)
    }

    static func key(_ name: String) -> String { "/managed-ledgers/\(name)" }

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
                ledger.startTimer()
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
        if let stored {
            do {
                ledgers = try JSONDecoder().decode(LedgerList.self, from: Data(stored.value)).ledgers
            } catch {
                throw ManagedLedgerError(.corruptMetadata, "\(key) does not hold a ledger list", cause: error)
            }
        }
        var readers: [Int64: LedgerReader] = [:]
        var dropped: Int64?
        if let last = ledgers.last {
            do {
                let reader = try await client.recoverLedger(last.id)
                ledgers[ledgers.count - 1] = LedgerInfo(id: last.id, entries: reader.metadata.lastEntryID + 1, size: Int64(reader.metadata.length))
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
            version = try await metadata.put(key, value: try Self.encode(ledgers), expecting: stored.map { .version($0.version) } ?? .absent)
        } catch {
            try? await client.deleteLedger(writer.ledgerID)
            throw error
        }
        if let dropped { try? await client.deleteLedger(dropped) }
        logger.info("opened managed ledger", metadata: ["name": "\(name)", "ledgers": "\(ledgers.map(\.id))"])
        var state = State(ledgers: ledgers, version: version, writer: writer, cache: EntryCache(capacity: configuration.cacheSize))
        state.readers = readers
        return ManagedLedger(name: name, client: client, metadata: metadata, configuration: configuration, logger: logger, state: state)
    }

    static func encode(_ ledgers: [LedgerInfo]) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array(try encoder.encode(LedgerList(ledgers: ledgers)))
    }

    // MARK: Positions

    /// The ledgers of the log, oldest first; the last is the one being written.
    public var ledgers: [LedgerInfo] { self.state.withLock { $0.ledgers } }

    /// The position after which nothing is written yet: the last confirmed position, or
    /// `(current, -1)` when the current ledger is still empty.
    public var lastConfirmed: Position { self.state.withLock { $0.lastConfirmed } }

    /// The first position that exists (for "earliest"); `(current, 0)` when the log holds
    /// no entry.
    public var firstPosition: Position {
        self.state.withLock { $0.normalized(Position(ledgerID: $0.ledgers[0].id, entryID: 0)) }
    }

    /// The position after `position`: `(ledger, entry+1)`, or the next ledger's first entry
    /// when `position` is a closed ledger's last (ledgers with no entries are skipped).
    public func next(after position: Position) -> Position {
        self.state.withLock { $0.normalized(Position(ledgerID: position.ledgerID, entryID: position.entryID + 1)) }
    }

    /// The number of existing entries `e` with `start < e ≤ end` (for backlogs:
    /// `numberOfEntries(after: markDelete, through: lastConfirmed)`).
    public func numberOfEntries(after start: Position, through end: Position) -> Int64 {
        self.state.withLock { state in
            var total: Int64 = 0
            for info in state.ledgers where info.id >= start.ledgerID && info.id <= end.ledgerID {
                let low = info.id == start.ledgerID ? max(0, start.entryID + 1) : 0
                let high = info.id == end.ledgerID ? min(end.entryID, info.entries - 1) : info.entries - 1
                total += max(0, high - low + 1)
            }
            return total
        }
    }

    // MARK: Background work

    private func startTimer() {
        let interval = TimeAmount.nanoseconds(Self.nanoseconds(self.configuration.cursorPersistInterval))
        let timer = self.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in self.tick() }
        let stale = self.state.withLock { state -> RepeatedTask? in
            if case .ready = state.phase {
                state.timer = timer
                return nil
            }
            return timer
        }
        stale?.cancel()
    }

    /// Persists changed cursors and trims consumed ledgers, once at a time.
    private func tick() {
        guard self.ticking.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        Task {
            let cursors = self.state.withLock { Array($0.cursors.values) }
            for cursor in cursors {
                do {
                    try await cursor.persist(trimming: false)
                } catch {
                    self.logger.warning("cursor persist failed", metadata: ["name": "\(self.name)", "cursor": "\(cursor.name)", "error": "\(error)"])
                }
            }
            await self.trimConsumedLedgers()
            self.ticking.store(false, ordering: .releasing)
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    // MARK: Closing

    /// Persists the cursors, closes the current ledger cleanly (the next owner need not
    /// recover it) and records its size in the list. Pending appends complete first;
    /// later ones fail with `closed`. Throws the first failure, after cleaning up anyway.
    public func close() async throws {
        let (timer, cursors, wasOpen) = self.state.withLock { state -> (RepeatedTask?, [ManagedCursor], Bool) in
            let timer = state.timer
            state.timer = nil
            if case .closed = state.phase { return (timer, [], false) }
            return (timer, Array(state.cursors.values), true)
        }
        timer?.cancel()
        guard wasOpen else { return }
        var firstError: (any Error)?
        for cursor in cursors {
            do { try await cursor.persist(trimming: false) } catch { firstError = firstError ?? error }
        }
        await self.listLock.lock()
        let closedError = ManagedLedgerError(.closed, "managed ledger \(self.name) is closed")
        let (writer, queue, waiters, fenced) = self.state.withLock { state in
            var fenced = false
            if case .fenced = state.phase { fenced = true }
            state.phase = .closed
            let queue = state.queue
            state.queue = []
            let waiters = Array(state.waiters.values)
            state.waiters = [:]
            state.cursors = [:]
            return (state.writer, queue, waiters, fenced)
        }
        for waiter in waiters {
            waiter.timeout?.cancel()
            waiter.continuation.resume(returning: false)
        }
        if !queue.isEmpty {
            self.eventLoop.execute { for (_, completion) in queue { completion(.failure(closedError)) } }
        }
        if let writer, !fenced {
            do {
                let closed = try await writer.close()
                let (ledgers, version) = self.state.withLock { state in
                    state.ledgers[state.ledgers.count - 1] = LedgerInfo(id: writer.ledgerID, entries: closed.lastEntryID + 1, size: Int64(closed.length))
                    state.writer = nil
                    return (state.ledgers, state.version)
                }
                let stored = try await self.metadata.put(self.key, value: try Self.encode(ledgers), expecting: .version(version))
                self.state.withLock { $0.version = stored }
            } catch {
                firstError = firstError ?? ManagedLedgerError.from(error, "closing managed ledger \(self.name)")
            }
        }
        self.state.withLock { $0.readers = [:] }
        self.listLock.unlock()
        self.logger.info("closed managed ledger", metadata: ["name": "\(self.name)"])
        if let firstError { throw firstError }
    }
}

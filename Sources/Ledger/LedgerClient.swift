import BookieWire
import Foundation
public import Metadata
public import NIOCore
import NIOPosix

/// Creates, opens, recovers and deletes ledgers: the broker's way to keep data on a
/// quorum of bookies.
///
/// A client works on one event loop: connections, writers and their bookkeeping live
/// there, so the add path takes no locks. Metadata changes go through the metadata store
/// by compare-and-set.
public final class LedgerClient: Sendable {
    /// Timeouts and limits. Defaults are in each field's comment.
    public struct Configuration: Sendable {
        /// How long a bookie has to answer a request (default 5 s).
        public var requestTimeout: Duration
        /// How long a failing or slow bookie is left out of new ensembles (default 30 s).
        public var quarantineTime: Duration
        /// A read not answered by then also goes to the next replica (default 300 ms).
        /// Recovery also waits this long, once a fence is decided, for the other bookies'
        /// answers; one that has not answered by then is replaced where entries are rewritten.
        public var speculativeReadTimeout: Duration
        /// A writer idle this long with a LAC its bookies were not told sends it to them
        /// (WRITE_LAC) (default 100 ms).
        public var explicitLACDelay: Duration

        public init(
            requestTimeout: Duration = .seconds(5),
            quarantineTime: Duration = .seconds(30),
            speculativeReadTimeout: Duration = .milliseconds(300),
            explicitLACDelay: Duration = .milliseconds(100)
        ) {
            self.requestTimeout = requestTimeout
            self.quarantineTime = quarantineTime
            self.speculativeReadTimeout = speculativeReadTimeout
            self.explicitLACDelay = explicitLACDelay
        }

        /// For tests only: called each time a writer computes an entry's digest (default
        /// none). A writer digests each entry once, whatever its write quorum.
        public var testingDigestObserver: (@Sendable () -> Void)? = nil
    }

    let metadata: any MetadataStore
    /// The loop every writer's completions run on; layers above may confine their own
    /// state to it to avoid a hop per entry.
    public let eventLoop: any EventLoop
    let configuration: Configuration
    let bookies: BookieDirectory
    let clock: LedgerClock

    /// A client on `eventLoop` (by default one of the process's shared loops), reaching
    /// bookies through `transport` (by default TCP connections), with its timers on `clock`
    /// (by default the event loop's and the continuous clock).
    public init(
        metadata: any MetadataStore,
        eventLoop: (any EventLoop)? = nil,
        configuration: Configuration = Configuration(),
        transport: BookieTransportFactory = .nio,
        clock: (any Clock<Duration>)? = nil
    ) {
        let eventLoop = eventLoop ?? MultiThreadedEventLoopGroup.singleton.next()
        self.metadata = metadata
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.clock = LedgerClock(clock)
        self.bookies = BookieDirectory(
            eventLoop: eventLoop, transports: transport, quarantineTime: .nanoseconds(Int64(configuration.quarantineTime.nanoseconds)),
            requestTimeout: .nanoseconds(Int64(configuration.requestTimeout.nanoseconds))
        )
    }

    /// Re-reads the bookie registrations.
    func refreshBookies() async throws {
        let registrations = try await BookieDirectory.read(from: self.metadata)
        try await self.eventLoop.submit { self.bookies.update(registrations) }.get()
    }

    // MARK: Create, open, delete

    /// Creates a ledger on `ensembleSize` bookies, each entry written to `writeQuorum` of
    /// them and confirmed once `ackQuorum` have it.
    public func createLedger(
        ensembleSize: Int,
        writeQuorum: Int,
        ackQuorum: Int,
        customMetadata: [String: String] = [:]
    ) async throws -> LedgerWriter {
        guard ackQuorum >= 1, writeQuorum >= ackQuorum, ensembleSize >= writeQuorum, ensembleSize <= 64 else {
            throw LedgerError(
                .invalidArgument,
                "need 64 ≥ ensemble ≥ write quorum ≥ ack quorum ≥ 1, got ensemble \(ensembleSize), write quorum \(writeQuorum), ack quorum \(ackQuorum)"
            )
        }
        try await self.refreshBookies()
        let ensemble = try await self.eventLoop.submit { try self.bookies.choose(ensembleSize, excluding: []) }.get()
        let id = try await self.metadata.nextID(ClusterLayout.ledgerIDCounter)
        let password = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let metadata = LedgerMetadata(
            state: .open, ensembleSize: ensembleSize, writeQuorum: writeQuorum, ackQuorum: ackQuorum,
            ensembles: [.init(firstEntryID: 0, bookies: ensemble)], lastEntryID: -1, length: 0, digestType: "CRC32C",
            password: password, creationTime: Int64(Date().timeIntervalSince1970 * 1000), customMetadata: customMetadata
        )
        let version = try await self.metadata.put(ClusterLayout.ledger(UInt64(id)), value: try metadata.encoded(), expecting: .absent)
        return LedgerWriter(client: self, ledgerID: id, metadata: metadata, version: version)
    }

    /// The ledger's metadata and its version.
    public func readMetadata(_ ledgerID: Int64) async throws -> (LedgerMetadata, Int64) {
        guard let stored = try await self.metadata.get(ClusterLayout.ledger(UInt64(ledgerID))) else {
            throw LedgerError(.noSuchLedger, "ledger \(ledgerID) does not exist")
        }
        return (try LedgerMetadata.decode(stored.value, ledgerID: ledgerID), stored.version)
    }

    /// Opens a ledger for reading without disturbing its writer: up to its last entry if
    /// closed, else up to the LAC the bookies report.
    public func openLedger(_ ledgerID: Int64) async throws -> LedgerReader {
        try await self.refreshBookies()
        let (metadata, _) = try await self.readMetadata(ledgerID)
        let reader = LedgerReader(client: self, ledgerID: ledgerID, metadata: metadata)
        if metadata.state != .closed { _ = try await reader.readLastAddConfirmed() }
        return reader
    }

    /// Opens a ledger for reading after making sure it is closed: an open ledger is fenced
    /// (its writer can add nothing more), its last entry is decided from the bookies, the
    /// entries up to there are written to their full write quorums (a bookie that is down
    /// or hung is replaced through an ensemble change), and it is closed.
    public func recoverLedger(_ ledgerID: Int64) async throws -> LedgerReader {
        try await self.refreshBookies()
        let metadata = try await LedgerRecovery(client: self, ledgerID: ledgerID).run()
        return LedgerReader(client: self, ledgerID: ledgerID, metadata: metadata)
    }

    /// Deletes the ledger's metadata; bookies reclaim its entries when they next collect
    /// garbage.
    public func deleteLedger(_ ledgerID: Int64) async throws {
        do {
            try await self.metadata.delete(ClusterLayout.ledger(UInt64(ledgerID)))
        } catch let error as MetadataError where error.code == .notFound {
            throw LedgerError(.noSuchLedger, "ledger \(ledgerID) does not exist")
        }
    }

    /// Closes every bookie connection. Writers and readers of this client must not be
    /// used afterwards.
    public func close() async {
        try? await self.eventLoop.submit { self.bookies.closeAll() }.get()
    }

    // MARK: Requests

    /// Sends one request to a bookie and waits for its answer; a bookie that is not
    /// registered answers `bookieUnavailable`. Cancelling the calling task gives up on the
    /// request at once (speculative reads rely on this).
    func request(_ bookieID: String, _ request: BookieRequest.Body, timeout: Duration? = nil) async -> Result<BookieResponse, LedgerError> {
        let timeout = TimeAmount.nanoseconds((timeout ?? self.configuration.requestTimeout).nanoseconds)
        let handle = RequestHandle()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                self.eventLoop.execute {
                    guard let connection = self.bookies.connection(bookieID) else {
                        continuation.resume(returning: .failure(LedgerError(.bookieUnavailable, "bookie \(bookieID) is not registered")))
                        return
                    }
                    let id = connection.send(request, timeout: timeout) { continuation.resume(returning: $0) }
                    handle.started(connection, id)
                }
            }
        } onCancel: {
            self.eventLoop.execute { handle.cancel() }
        }
    }
}

/// A request in flight, for cancelling it. Confined to the client's event loop.
private final class RequestHandle: @unchecked Sendable {
    private var connection: (any BookieTransport)?
    private var id: UInt64 = 0
    private var cancelled = false

    func started(_ connection: any BookieTransport, _ id: UInt64) {
        self.connection = connection
        self.id = id
        if self.cancelled { self.cancel() }
    }

    func cancel() {
        self.cancelled = true
        self.connection?.cancel(self.id, LedgerError(.timeout, "the request was abandoned"))
        self.connection = nil
    }
}

extension Duration {
    var nanoseconds: Int64 {
        self.components.seconds * 1_000_000_000 + self.components.attoseconds / 1_000_000_000
    }
}

extension BookieResponse {
    /// This failure answer as a ledger error.
    func error(from bookieID: String) -> LedgerError {
        let message: String
        if case .failure(_, let text) = self.body { message = text } else { message = "unexpected answer \(self.body)" }
        let code: LedgerError.Code =
            switch self.status {
            case .fenced: .fenced
            case .noEntry, .noLedger: .noSuchEntry
            case .corruptEntry: .corruptEntry
            default: .bookieUnavailable
            }
        return LedgerError(code, "bookie \(bookieID) answered \(self.status): \(message)")
    }
}

import Foundation
public import Ledger
public import Metadata
public import NIOCore

/// Bookies in the test process, registered in an in-memory metadata store, and ledger
/// clients that reach them through ``InProcessBookieTransport``s: the ledger client's
/// code paths without processes or sockets, fast and steerable by a test.
///
/// Every bookie's delays, long polls and held-request timeouts run on the cluster's clock;
/// give clients the same clock (``client(configuration:clock:)`` does) to drive their
/// timers too. Bookie ids are `bookie-0`, `bookie-1`, ….
public final class InProcessCluster: Sendable {
    public let metadata: MemoryMetadataStore
    public let bookies: [InProcessBookie]
    public let clock: any Clock<Duration>

    private init(metadata: MemoryMetadataStore, bookies: [InProcessBookie], clock: any Clock<Duration>) {
        self.metadata = metadata
        self.bookies = bookies
        self.clock = clock
    }

    /// Opens `count` bookies, each with a fresh store, and registers them as writable (on
    /// `racks[i]` when given).
    public static func start(bookies count: Int, clock: any Clock<Duration> = ContinuousClock(), racks: [String]? = nil) async throws -> InProcessCluster {
        let metadata = MemoryMetadataStore()
        var bookies: [InProcessBookie] = []
        for index in 0..<count {
            bookies.append(try InProcessBookie(id: "bookie-\(index)", clock: clock))
        }
        let cluster = InProcessCluster(metadata: metadata, bookies: bookies, clock: clock)
        for (index, bookie) in bookies.enumerated() {
            try await cluster.register(bookie.id, rack: racks?[index])
        }
        return cluster
    }

    /// The bookie with this id.
    public func bookie(_ id: String) -> InProcessBookie {
        self.bookies.first { $0.id == id }!
    }

    /// The factory of transports to these bookies; a bookie this cluster lacks cannot be
    /// reached.
    public var transports: BookieTransportFactory {
        let bookies = self.bookies
        return BookieTransportFactory { registration, eventLoop in
            bookies.first { $0.id == registration.id }.map { InProcessBookieTransport(bookie: $0, eventLoop: eventLoop) }
        }
    }

    /// A ledger client of these bookies, on `eventLoop` (by default a shared one), with its
    /// timers on `clock` (by default the cluster's, when that is not the continuous clock).
    public func client(
        configuration: LedgerClient.Configuration = .init(requestTimeout: .seconds(5), speculativeReadTimeout: .milliseconds(50)),
        eventLoop: (any EventLoop)? = nil,
        clock: (any Clock<Duration>)? = nil
    ) -> LedgerClient {
        let clock = clock ?? (self.clock is ContinuousClock ? nil : self.clock)
        return LedgerClient(metadata: self.metadata, eventLoop: eventLoop, configuration: configuration, transport: self.transports, clock: clock)
    }

    /// Registers a bookie under `/bookies/available` (writable or read-only).
    public func register(_ id: String, rack: String? = nil, writable: Bool = true) async throws {
        var fields: [String: String] = ["address": "in-process:\(id)", "state": writable ? "writable" : "readonly"]
        if let rack { fields["rack"] = rack }
        let value = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
        _ = try await self.metadata.put(ClusterLayout.availableBookie(id), value: Array(value))
    }

    /// Removes a bookie's registration, as when its session expires.
    public func deregister(_ id: String) async throws {
        try await self.metadata.delete(ClusterLayout.availableBookie(id))
    }

    /// Closes every bookie's store and removes its directory.
    public func shutdown() async {
        for bookie in self.bookies { bookie.shutdown() }
        await self.metadata.close()
    }
}

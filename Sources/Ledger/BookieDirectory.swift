import Foundation
public import Metadata
import NIOCore

/// A bookie as registered under `/bookies/available/<id>`.
public struct BookieRegistration: Hashable, Sendable, Codable {
    public var id: String
    public var address: String
    public var rack: String?
    public var writable: Bool

    public init(id: String, address: String, rack: String?, writable: Bool) {
        self.id = id
        self.address = address
        self.rack = rack
        self.writable = writable
    }
}

/// The live bookies, their transports, and the ones to stay away from for a while.
/// Confined to the client's event loop, except ``read(from:)``'s metadata reads.
extension BookieRegistration {
    /// The bookies registered now, from the metadata store.
    public static func all(in metadata: any MetadataStore) async throws -> [BookieRegistration] {
        try await BookieDirectory.read(from: metadata)
    }
}

final class BookieDirectory: @unchecked Sendable {
    private let eventLoop: any EventLoop
    private let transports: BookieTransportFactory
    private var registrations: [String: BookieRegistration] = [:]
    private var connections: [String: any BookieTransport] = [:]
    /// Bookies that failed or were slow, until when.
    private var quarantine: [String: NIODeadline] = [:]
    /// Ensembles this client placed on each bookie: its idea of load.
    private var placed: [String: Int] = [:]
    let quarantineTime: TimeAmount
    let requestTimeout: TimeAmount

    init(eventLoop: any EventLoop, transports: BookieTransportFactory = .nio, quarantineTime: TimeAmount, requestTimeout: TimeAmount) {
        self.eventLoop = eventLoop
        self.transports = transports
        self.quarantineTime = quarantineTime
        self.requestTimeout = requestTimeout
    }

    /// Reads the registrations from the metadata store. A decommissioned bookie counts as
    /// not writable: it takes no new ensembles while it is drained.
    static func read(from metadata: any MetadataStore) async throws -> [BookieRegistration] {
        struct Stored: Decodable {
            var address: String
            var rack: String?
            var state: String
        }
        var found: [BookieRegistration] = []
        let decommissioned = Set(try await metadata.children(of: ClusterLayout.decommissionedBookies))
        for id in try await metadata.children(of: ClusterLayout.availableBookies) {
            guard let value = try await metadata.get(ClusterLayout.availableBookie(id)),
                let stored = try? JSONDecoder().decode(Stored.self, from: Data(value.value))
            else { continue }
            found.append(BookieRegistration(id: id, address: stored.address, rack: stored.rack, writable: stored.state == "writable" && !decommissioned.contains(id)))
        }
        return found
    }

    /// Replaces the known registrations (on the loop). A bookie that moved gets a new
    /// connection.
    func update(_ registrations: [BookieRegistration]) {
        self.eventLoop.preconditionInEventLoop()
        var next: [String: BookieRegistration] = [:]
        for registration in registrations { next[registration.id] = registration }
        for (id, connection) in self.connections where next[id]?.address != self.registrations[id]?.address {
            connection.close()
            self.connections[id] = nil
        }
        self.registrations = next
    }

    func isQuarantined(_ id: String, now: NIODeadline = .now()) -> Bool {
        guard let until = self.quarantine[id] else { return false }
        if until > now { return true }
        self.quarantine[id] = nil
        return false
    }

    /// Whether a bookie may take writes now: registered, writable and not quarantined.
    func isUsable(_ id: String) -> Bool {
        self.registrations[id]?.writable == true && !self.isQuarantined(id)
    }

    func markFailed(_ id: String) {
        self.quarantine[id] = .now() + self.quarantineTime
    }

    /// The transport to a bookie, or nil when it is not registered (down) or cannot be
    /// reached.
    func connection(_ id: String) -> (any BookieTransport)? {
        self.eventLoop.preconditionInEventLoop()
        if let connection = self.connections[id] { return connection }
        guard let registration = self.registrations[id], let connection = self.transports.make(registration, self.eventLoop) else { return nil }
        connection.onFailure = { [weak self] error in
            if error.code == .timeout || error.code == .bookieUnavailable { self?.markFailed(id) }
        }
        self.connections[id] = connection
        return connection
    }

    /// Picks `count` distinct writable bookies outside `excluded`: least loaded first, on
    /// racks not yet used when racks are set, and quarantined ones only when there are not
    /// enough others and `allowQuarantined`. Throws `notEnoughBookies`.
    func choose(_ count: Int, excluding excluded: Set<String>, racksInUse: Set<String> = [], allowQuarantined: Bool = true) throws(LedgerError) -> [String] {
        self.eventLoop.preconditionInEventLoop()
        let candidates = self.candidates()
        let chosen = try BookiePlacement.choose(
            count, from: candidates, excluding: excluded, racksInUse: racksInUse, allowQuarantined: allowQuarantined,
            registered: self.registrations.count
        )
        for id in chosen { self.placed[id, default: 0] += 1 }
        return chosen
    }

    /// Forgets placements when a ledger closes, so load counts only open ensembles.
    func released(_ ensemble: [String]) {
        for id in ensemble { self.placed[id] = max(0, self.placed[id, default: 0] - 1) }
    }

    func closeAll() {
        self.eventLoop.preconditionInEventLoop()
        for connection in self.connections.values { connection.close() }
        self.connections.removeAll()
    }

    /// Every registered bookie's id, read-only ones included.
    var registeredIDs: Set<String> {
        self.eventLoop.preconditionInEventLoop()
        return Set(self.registrations.keys)
    }

    /// The writable bookies as placement candidates, with this client's placements as load.
    func candidates(now: NIODeadline = .now()) -> [BookiePlacement.Candidate] {
        self.eventLoop.preconditionInEventLoop()
        return self.registrations.values.filter(\.writable).map {
            BookiePlacement.Candidate(id: $0.id, rack: $0.rack, quarantined: self.isQuarantined($0.id, now: now), load: self.placed[$0.id, default: 0])
        }
    }

    func rack(of id: String) -> String? {
        self.registrations[id]?.rack
    }
}

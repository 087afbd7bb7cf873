import Foundation
public import Metadata

/// What the metadata store says about a ledger (`/ledgers/<id>`, JSON). Every change is a
/// compare-and-set on the key's version, so concurrent writers and recoverers never
/// overwrite each other's decisions.
public struct LedgerMetadata: Codable, Hashable, Sendable {
    public enum State: String, Codable, Sendable {
        case open = "OPEN"
        /// A recoverer has fenced the ledger and is deciding its last entry.
        case inRecovery = "IN_RECOVERY"
        case closed = "CLOSED"
    }

    /// The bookies that store the entries from `firstEntryID` on, until the next segment.
    public struct Segment: Codable, Hashable, Sendable {
        public var firstEntryID: Int64
        public var bookies: [String]

        public init(firstEntryID: Int64, bookies: [String]) {
            self.firstEntryID = firstEntryID
            self.bookies = bookies
        }
    }

    public var state: State
    public var ensembleSize: Int
    public var writeQuorum: Int
    public var ackQuorum: Int
    /// Ordered by `firstEntryID`; the first starts at 0.
    public var ensembles: [Segment]
    /// -1 for an empty ledger; meaningful once closed.
    public var lastEntryID: Int64
    /// Payload bytes up to `lastEntryID`; meaningful once closed.
    public var length: UInt64
    public var digestType: String
    /// The key bookies check on every add and fence (hex).
    public var password: String
    /// Milliseconds since 1970.
    public var creationTime: Int64
    public var customMetadata: [String: String]

    public init(
        state: State,
        ensembleSize: Int,
        writeQuorum: Int,
        ackQuorum: Int,
        ensembles: [Segment],
        lastEntryID: Int64,
        length: UInt64,
        digestType: String,
        password: String,
        creationTime: Int64,
        customMetadata: [String: String]
    ) {
        self.state = state
        self.ensembleSize = ensembleSize
        self.writeQuorum = writeQuorum
        self.ackQuorum = ackQuorum
        self.ensembles = ensembles
        self.lastEntryID = lastEntryID
        self.length = length
        self.digestType = digestType
        self.password = password
        self.creationTime = creationTime
        self.customMetadata = customMetadata
    }

    /// The bookies holding `entryID`'s segment.
    public func ensemble(for entryID: Int64) -> [String] {
        self.ensembles.last { $0.firstEntryID <= entryID }?.bookies ?? self.ensembles[0].bookies
    }

    /// The bookies that store `entryID`: its write set, `writeQuorum` of the ensemble
    /// starting at index `entryID mod ensembleSize`.
    public func writeSet(for entryID: Int64) -> [String] {
        let ensemble = self.ensemble(for: entryID)
        return Self.writeSetIndices(entryID, ensembleSize: self.ensembleSize, writeQuorum: self.writeQuorum).map { ensemble[$0] }
    }

    static func writeSetIndices(_ entryID: Int64, ensembleSize: Int, writeQuorum: Int) -> [Int] {
        let first = Int(entryID % Int64(ensembleSize))
        return (0..<writeQuorum).map { (first + $0) % ensembleSize }
    }

    var key: [UInt8] { Array(self.password.utf8) }

    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array(try encoder.encode(self))
    }

    /// Decodes stored metadata (`/ledgers/<id>`), checking its ensembles.
    public static func decoded(_ bytes: [UInt8], ledgerID: Int64) throws(LedgerError) -> LedgerMetadata {
        try Self.decode(bytes, ledgerID: ledgerID)
    }

    static func decode(_ bytes: [UInt8], ledgerID: Int64) throws(LedgerError) -> LedgerMetadata {
        do {
            let metadata = try JSONDecoder().decode(LedgerMetadata.self, from: Data(bytes))
            guard !metadata.ensembles.isEmpty, metadata.ensembles.allSatisfy({ $0.bookies.count == metadata.ensembleSize }) else {
                throw LedgerError(.corruptMetadata, "ledger \(ledgerID) has malformed ensembles")
            }
            return metadata
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError(.corruptMetadata, "the metadata of ledger \(ledgerID) cannot be read: \(error)")
        }
    }
}

extension LedgerMetadata {
    /// Stores the metadata of an open ledger `id` whose entries are written straight to
    /// `bookies` with the key `password` (benchmarks and tests that speak the bookie
    /// protocol themselves): bookies take adds only for ledgers the metadata store has.
    public static func register(_ id: UInt64, password: String, bookies: [String], in metadata: any MetadataStore) async throws {
        let ledger = LedgerMetadata(
            state: .open, ensembleSize: max(1, bookies.count), writeQuorum: max(1, bookies.count), ackQuorum: 1,
            ensembles: [.init(firstEntryID: 0, bookies: bookies)], lastEntryID: -1, length: 0, digestType: "CRC32C", password: password,
            creationTime: Int64(Date().timeIntervalSince1970 * 1000), customMetadata: [:]
        )
        _ = try await metadata.put(ClusterLayout.ledger(id), value: try ledger.encoded(), expecting: .absent)
    }
}

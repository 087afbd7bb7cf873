import BookieServer
import BookieStorage
import BookieWire
import Foundation
import Ledger
import Metadata
import NIOCore
import Testing

/// A bookie takes no add, fence or LAC for a ledger it holds no key of unless the metadata
/// store has that ledger with that key: ledger ids are a counter anyone reads off a
/// receipt, and a stranger's fence of a future id would refuse its real writer.
@Suite("Ledger keys", .timeLimit(.minutes(1)))
struct LedgerKeyTests {
    typealias Fixture = BookieRequestHandlerTests.Fixture
    static let password = "0123456789abcdef"

    /// A metadata store holding ledger `id`, created with ``password``.
    static func metadata(with id: UInt64) async throws -> MemoryMetadataStore {
        let store = MemoryMetadataStore()
        let ledger = LedgerMetadata(
            state: .open, ensembleSize: 1, writeQuorum: 1, ackQuorum: 1, ensembles: [.init(firstEntryID: 0, bookies: ["b"])],
            lastEntryID: -1, length: 0, digestType: "CRC32C", password: Self.password, creationTime: 0, customMetadata: [:]
        )
        _ = try await store.put(ClusterLayout.ledger(id), value: try ledger.encoded(), expecting: .absent)
        return store
    }

    static func add(_ ledger: UInt64, _ entry: UInt64, key: String, id: UInt64, recovery: Bool = false) -> ByteBuffer {
        BookieRequest(requestID: id, .add(entry: BookieServerTests.entry(ledger, entry), ledgerKey: Array(key.utf8), recovery: recovery)).bytes
    }

    @Test func addsToLedgersTheMetadataStoreDoesNotHaveAreRefused() async throws {
        let fixture = try await Fixture(keys: MetadataLedgerKeys(metadata: try await Self.metadata(with: 7)))
        for (index, ledger) in [UInt64(8), 1 << 63, .max].enumerated() {
            let answer = try await fixture.exchange(Self.add(ledger, 0, key: Self.password, id: UInt64(index)))
            #expect(answer.status == .noLedger, "ledger \(ledger): \(answer)")
        }
        let recovery = try await fixture.exchange(Self.add(9, 0, key: Self.password, id: 5, recovery: true))
        #expect(recovery.status == .noLedger, "\(recovery)")
        try await fixture.stop()
    }

    @Test func anAddWithAnotherKeyThanTheLedgersIsRefusedAndTheRealOneTaken() async throws {
        let fixture = try await Fixture(keys: MetadataLedgerKeys(metadata: try await Self.metadata(with: 7)))
        let forged = try await fixture.exchange(Self.add(7, 0, key: "guess", id: 1))
        #expect(forged.status == .unauthorized, "\(forged)")
        let real = try await fixture.exchange(Self.add(7, 0, key: Self.password, id: 2))
        #expect(real.status == .ok, "\(real)")
        try await fixture.stop()
    }

    @Test func aStrangersFenceOfAFutureLedgerDoesNotStopItsWriter() async throws {
        let metadata = MemoryMetadataStore()
        let fixture = try await Fixture(keys: MetadataLedgerKeys(metadata: metadata))
        let fence = try await fixture.exchange(
            BookieRequest(requestID: 1, .read(ReadRequest(ledgerID: 7, firstEntryID: 0, fence: true, ledgerKey: Array("guess".utf8)))).bytes
        )
        #expect(fence.status == .noLedger, "\(fence)")
        let lac = try await fixture.exchange(
            BookieRequest(requestID: 2, .writeLAC(ledgerID: 7, lastAddConfirmed: .max, ledgerKey: Array("guess".utf8))).bytes
        )
        #expect(lac.status == .noLedger, "\(lac)")
        // The ledger is created since, and its writer adds.
        let created = try await Self.metadata(with: 7)
        _ = try await metadata.put(ClusterLayout.ledger(7), value: try await created.get(ClusterLayout.ledger(7))!.value, expecting: .absent)
        let add = try await fixture.exchange(Self.add(7, 0, key: Self.password, id: 3))
        #expect(add.status == .ok, "the writer is not fenced: \(add)")
        try await fixture.stop()
    }

    /// A WRITE_LAC of Int64.max by the ledger's own writer, then a long-poll read: the
    /// entries the LAC covers are counted without overflow.
    @Test func aLongPollOverALACAtInt64MaxAnswers() async throws {
        let fixture = try await Fixture(keys: MetadataLedgerKeys(metadata: try await Self.metadata(with: 7)))
        let lac = try await fixture.exchange(
            BookieRequest(requestID: 1, .writeLAC(ledgerID: 7, lastAddConfirmed: .max, ledgerKey: Array(Self.password.utf8))).bytes
        )
        #expect(lac.status == .ok, "\(lac)")
        let negative = try await fixture.exchange(
            BookieRequest(requestID: 2, .writeLAC(ledgerID: 7, lastAddConfirmed: -5, ledgerKey: Array(Self.password.utf8))).bytes
        )
        #expect(negative.status == .badRequest, "\(negative)")
        let poll = try await fixture.exchange(
            BookieRequest(
                requestID: 3, .read(ReadRequest(ledgerID: 7, firstEntryID: 0, longPoll: .init(previousLAC: -1, timeoutMilliseconds: 1000)))
            ).bytes
        )
        #expect(poll.requestID == 3, "\(poll)")
        try await fixture.stop()
    }
}

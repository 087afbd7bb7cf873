import BookieStorage
import ClusterTesting
import NIOCore
import Testing

/// The damage the nemesis does to a journal's tail is what a crash mid-write leaves: the
/// bookie's replay finds every record written before it and cuts the damaged bytes.
@Suite struct JournalTailTests {
    @Test(arguments: [JournalTail.Damage.torn, .flipped])
    func replayKeepsEveryRecordAndCutsTheDamage(damage: JournalTail.Damage) async throws {
        let directory = try TemporaryDirectory(label: "journal-tail")
        defer { directory.remove() }
        let journal = try Journal.open(.init(directory: directory.path, preallocationStep: 256 << 10))
        let records = (0..<20).map { JournalRecord.entry(ledgerID: 3, entryID: UInt64($0), bytes: ByteBuffer(repeating: UInt8($0), count: 300)) }
        for record in records { _ = try await journal.append(record) }
        journal.close()
        let before = try Journal.replay(directory: directory.path) { _, _ in }
        #expect(before.tornBytes == 0)

        var random = SplitMix64(seed: 11)
        let what = try JournalTail.damage(damage, directory: directory.path, random: &random)
        var replayed: [JournalRecord] = []
        let after = try Journal.replay(directory: directory.path) { record, _ in replayed.append(record) }
        #expect(replayed == records, "\(what)")
        #expect(after.end == before.end)
        #expect(after.tornBytes > 0, "\(what)")
    }
}

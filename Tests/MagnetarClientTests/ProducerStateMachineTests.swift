import NIOCore
import PulsarProto
import PulsarWire
import Testing

@testable import MagnetarClient

@Suite("Producer state machine")
struct ProducerStateMachineTests {
    typealias Machine = ProducerStateMachine<Int, TestInstant>

    static func machine(_ batching: BatchPolicy = BatchPolicy(maxMessages: 3, maxBytes: 100, maxDelay: .milliseconds(10))) -> Machine {
        var machine = Machine(producerID: 7, producerName: "p", batching: batching, compression: .none)
        _ = machine.connected(producerName: "p", lastSequenceID: -1)
        return machine
    }

    static func decode(_ frame: ByteBuffer) throws -> PulsarFrame {
        var decoder = PulsarFrameDecoder()
        var bytes = frame
        return try #require(try decoder.decode(buffer: &bytes))
    }

    @Test func aBatchIsSealedWhenFullAndCarriesItsFirstAndHighestSequenceIDs() throws {
        var machine = Self.machine()
        let first = machine.send(OutgoingMessage("a"), completion: 0, now: .zero, publishTime: 1)
        #expect(first.write.isEmpty)
        #expect(first.scheduleFlush == TestInstant.zero.advanced(by: .milliseconds(10)))
        _ = machine.send(OutgoingMessage("b"), completion: 1, now: .zero, publishTime: 1)
        let third = machine.send(OutgoingMessage("c"), completion: 2, now: .zero, publishTime: 1)
        #expect(third.write.count == 1)
        let frame = try Self.decode(third.write[0])
        #expect(frame.command.send.sequenceID == 0)
        #expect(frame.command.send.highestSequenceID == 2)
        #expect(frame.command.send.numMessages == 3)
        #expect(frame.payload?.metadata.numMessagesInBatch == 3)
    }

    @Test func aBatchIsSealedByAgeAndByBytes() {
        var machine = Self.machine()
        _ = machine.send(OutgoingMessage("a"), completion: 0, now: .zero, publishTime: 1)
        #expect(machine.flushIfDue(now: .zero.advanced(by: .milliseconds(9)), publishTime: 1).write.isEmpty)
        #expect(machine.flushIfDue(now: .zero.advanced(by: .milliseconds(10)), publishTime: 1).write.count == 1)
        _ = machine.send(OutgoingMessage(String(repeating: "x", count: 60)), completion: 1, now: .zero, publishTime: 1)
        // 60 + 60 bytes would pass 100: the open batch goes first.
        let second = machine.send(OutgoingMessage(String(repeating: "y", count: 60)), completion: 2, now: .zero, publishTime: 1)
        #expect(second.write.count == 1)
        #expect(machine.batchedCount == 1)
    }

    @Test func receiptsCompleteBatchMessagesWithTheirIndexes() {
        var machine = Self.machine()
        for value in 0..<3 { _ = machine.send(OutgoingMessage("m\(value)"), completion: value, now: .zero, publishTime: 1) }
        let actions = machine.receipt(sequenceID: 0, id: MessageID(ledgerID: 4, entryID: 5))
        #expect(actions.succeed.map(\.0) == [0, 1, 2])
        #expect(actions.succeed.map(\.1.batchIndex) == [0, 1, 2])
        #expect(actions.succeed.allSatisfy { $0.1.batchSize == 3 && $0.1.entryID == 5 })
        #expect(machine.pending.isEmpty)
    }

    @Test func aDuplicateReceiptIsIgnoredAndOneAheadAsksForAReconnect() {
        var machine = Self.machine(.disabled)
        for value in 0..<3 { _ = machine.send(OutgoingMessage("m\(value)"), completion: value, now: .zero, publishTime: 1) }
        #expect(machine.receipt(sequenceID: 0, id: MessageID(ledgerID: 1, entryID: 0)).succeed.map(\.0) == [0])
        let duplicate = machine.receipt(sequenceID: 0, id: MessageID(ledgerID: 1, entryID: 0))
        #expect(duplicate.succeed.isEmpty && !duplicate.reconnect)
        #expect(machine.receipt(sequenceID: 2, id: MessageID(ledgerID: 1, entryID: 2)).reconnect)
        #expect(machine.pending.count == 2)
    }

    @Test func pendingBatchesAreWrittenAgainInOrderAfterAReconnect() throws {
        var machine = Self.machine(.disabled)
        var written: [ByteBuffer] = []
        for value in 0..<3 { written += machine.send(OutgoingMessage("m\(value)"), completion: value, now: .zero, publishTime: 1).write }
        _ = machine.receipt(sequenceID: 0, id: MessageID(ledgerID: 1, entryID: 0))
        machine.disconnected()
        // While disconnected nothing is written, but sequence ids go on.
        #expect(machine.send(OutgoingMessage("m3"), completion: 3, now: .zero, publishTime: 1).write.isEmpty)
        let resent = machine.connected(producerName: "p", lastSequenceID: 0)
        #expect(try resent.write.map { try Self.decode($0).command.send.sequenceID } == [1, 2, 3])
        #expect(resent.write[0] == written[1])
    }

    @Test func closingFailsEverythingNotReceipted() {
        var machine = Self.machine()
        for value in 0..<4 { _ = machine.send(OutgoingMessage("m\(value)"), completion: value, now: .zero, publishTime: 1) }
        let actions = machine.close(PulsarClientError(.producerClosed, "closed"))
        #expect(actions.fail.map(\.0).sorted() == [0, 1, 2, 3])
        #expect(machine.send(OutgoingMessage("late"), completion: 9, now: .zero, publishTime: 1).fail.map(\.0) == [9])
    }

    @Test func aFlushBarrierWaitsForTheLastPendingBatch() {
        var machine = Self.machine()
        #expect(machine.flush(now: .zero, publishTime: 1, barrier: 100).succeed.map(\.0) == [100])
        _ = machine.send(OutgoingMessage("a"), completion: 0, now: .zero, publishTime: 1)
        let flush = machine.flush(now: .zero, publishTime: 1, barrier: 101)
        #expect(flush.write.count == 1 && flush.succeed.isEmpty)
        let receipt = machine.receipt(sequenceID: 0, id: MessageID(ledgerID: 1, entryID: 1))
        #expect(receipt.succeed.map(\.0) == [0, 101])
        #expect(receipt.completedMessages == 1)
    }

    @Test func unreceiptedBatchesExpireAfterTheSendTimeout() {
        var machine = Self.machine(.disabled)
        _ = machine.send(OutgoingMessage("a"), completion: 0, now: .zero, publishTime: 1)
        #expect(machine.expire(now: .zero.advanced(by: .seconds(29)), timeout: .seconds(30)).fail.isEmpty)
        let expired = machine.expire(now: .zero.advanced(by: .seconds(30)), timeout: .seconds(30))
        #expect(expired.fail.map(\.0) == [0])
        #expect(expired.fail.first?.1.code == .timeout)
    }

    @Test(arguments: MessageCompression.allCases)
    func encodedBatchesDecodeToTheSameMessages(compression: MessageCompression) throws {
        let items = (0..<5).map { index in
            BatchEncoding.Item(
                message: OutgoingMessage("payload \(index) " + String(repeating: "z", count: index * 40), key: index % 2 == 0 ? "k\(index)" : nil, properties: ["i": "\(index)"]),
                sequenceID: UInt64(10 + index)
            )
        }
        let bytes = try BatchEncoding.sendFrame(items, batched: true, producerID: 1, producerName: "p", compression: compression, publishTime: 42, allocator: .init())
        let frame = try Self.decode(bytes)
        let payload = try #require(frame.payload)
        #expect(payload.checksumValid)
        let messages = try EntryDecoding.messages(payload, id: MessageID(ledgerID: 2, entryID: 3), topic: "t", redeliveryCount: 0, ackSet: [])
        #expect(messages.map(\.text) == items.map { String(buffer: $0.message.payload) })
        #expect(messages.map(\.key) == ["k0", nil, "k2", nil, "k4"])
        #expect(messages.map { $0.properties["i"] } == ["0", "1", "2", "3", "4"])
        #expect(messages.map(\.sequenceID) == [10, 11, 12, 13, 14])
        #expect(messages.allSatisfy { $0.publishTime == 42 && $0.id.batchSize == 5 })
        // Messages the broker marks as acknowledged (cleared bits) are left out.
        let partial = try EntryDecoding.messages(payload, id: MessageID(ledgerID: 2, entryID: 3), topic: "t", redeliveryCount: 1, ackSet: [0b10110])
        #expect(partial.map(\.id.batchIndex) == [1, 2, 4])
        #expect(partial.allSatisfy { $0.redeliveryCount == 1 })
    }

    @Test func aSingleMessageTravelsWithoutBatchHeaders() throws {
        let item = BatchEncoding.Item(message: OutgoingMessage("solo", key: "k", properties: ["a": "b"]), sequenceID: 3)
        let frame = try Self.decode(try BatchEncoding.sendFrame([item], batched: false, producerID: 1, producerName: "p", compression: .lz4, publishTime: 1, allocator: .init()))
        let payload = try #require(frame.payload)
        #expect(!payload.metadata.hasNumMessagesInBatch)
        let messages = try EntryDecoding.messages(payload, id: MessageID(ledgerID: 1, entryID: 1), topic: "t", redeliveryCount: 0, ackSet: [])
        #expect(messages.count == 1)
        #expect(messages[0].text == "solo" && messages[0].key == "k" && messages[0].properties == ["a": "b"] && messages[0].id.batchIndex == -1)
    }

    @Test func aMessageAboveTheChunkSizeGoesInChunksUnderOneSequenceID() throws {
        var machine = Self.machine()
        _ = machine.send(OutgoingMessage("small"), completion: 0, now: .zero, publishTime: 1, chunkSize: 10)
        let big = machine.send(OutgoingMessage(String(repeating: "b", count: 25)), completion: 1, now: .zero, publishTime: 1, chunkSize: 10)
        // The open batch goes first, then three chunks.
        #expect(big.write.count == 4)
        let chunks = try big.write.dropFirst().map { try Self.decode($0) }
        #expect(chunks.map(\.command.send.sequenceID) == [1, 1, 1])
        #expect(chunks.allSatisfy { $0.command.send.isChunk && $0.payload?.metadata.numChunksFromMsg == 3 && $0.payload?.metadata.totalChunkMsgSize == 25 })
        #expect(chunks.map { $0.payload?.metadata.chunkID } == [0, 1, 2])
        #expect(chunks.map { $0.payload?.payload.readableBytes } == [10, 10, 5])
        _ = machine.receipt(sequenceID: 0, id: MessageID(ledgerID: 1, entryID: 0))
        #expect(machine.receipt(sequenceID: 1, id: MessageID(ledgerID: 1, entryID: 1)).succeed.isEmpty)
        #expect(machine.receipt(sequenceID: 1, id: MessageID(ledgerID: 1, entryID: 2)).succeed.isEmpty)
        let last = machine.receipt(sequenceID: 1, id: MessageID(ledgerID: 1, entryID: 3))
        #expect(last.succeed.map(\.0) == [1])
        #expect(last.succeed.first?.1 == MessageID(ledgerID: 1, entryID: 3))
    }
}

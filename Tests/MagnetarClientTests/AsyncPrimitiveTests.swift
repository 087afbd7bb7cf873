import NIOCore
import Testing

@testable import MagnetarClient

@Suite("Pending-queue permits and the receiver queue")
struct AsyncPrimitiveTests {
    @Test func aFullPendingQueueMakesTheNextSendWaitUntilAPlaceIsFreed() async throws {
        let permits = AsyncPermits(2)
        try await permits.acquire()
        try await permits.acquire()
        let acquired = Locked(false)
        let third = Task {
            try await permits.acquire()
            acquired.withLock { $0 = true }
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(!acquired.withLock { $0 })
        permits.release()
        try await third.value
        #expect(acquired.withLock { $0 })
        // A cancelled waiter leaves the queue with an error.
        let cancelled = Task { try await permits.acquire() }
        try await Task.sleep(for: .milliseconds(20))
        cancelled.cancel()
        await #expect(throws: PulsarClientError.self) { try await cancelled.value }
        permits.fail(PulsarClientError(.producerClosed, "closed"))
        await #expect(throws: PulsarClientError.self) { try await permits.acquire() }
    }

    @Test func takersGetDeliveriesInOrderAndAFailedQueueEndsThem() async throws {
        let queue = ReceiverQueue()
        let message = { (text: String) in Message(id: MessageID(ledgerID: 1, entryID: 1), topic: "t", payload: ByteBuffer(string: text)) }
        let waiting = Task { try await queue.take().message.text }
        try await Task.sleep(for: .milliseconds(20))
        queue.push([ReceiverQueue.Delivery(message: message("a"), source: 0), ReceiverQueue.Delivery(message: message("b"), source: 1)])
        #expect(try await waiting.value == "a")
        queue.push([ReceiverQueue.Delivery(message: message("c"), source: 0)])
        queue.removeAll(from: 1)
        #expect(try await queue.take().message.text == "c")
        let pending = Task { try await queue.take() }
        try await Task.sleep(for: .milliseconds(20))
        queue.fail(PulsarClientError(.consumerClosed, "closed"))
        let error = await #expect(throws: PulsarClientError.self) { try await pending.value }
        #expect(error?.code == .consumerClosed)
    }
}

import NIOCore

/// A producer's send path as a value: the open batch, the sequence ids, and the batches
/// sent but not yet receipted, in order.
///
/// It decides when a batch is sealed (``BatchPolicy``), encodes it once into a SEND frame
/// that is written now (when connected) and again unchanged after every reconnection
/// until its receipt comes, and matches receipts to the oldest pending batch: a receipt
/// for an older sequence id is a duplicate and ignored, one for a newer id means the
/// broker lost a batch and the connection must be dropped. Generic over the completion
/// and the clock's instant so tests drive it with plain values and a manual clock.
struct ProducerStateMachine<Completion, Instant: InstantProtocol<Duration>> {
    struct Pending {
        var sequenceID: UInt64
        var frame: ByteBuffer
        var completions: [Completion]
        var batched: Bool
        var sealedAt: Instant
        /// Completions that only wait for this batch (flush barriers).
        var barriers: [Completion] = []
    }

    /// What to do after an event; every field may be empty.
    struct Actions {
        /// Frames to write, in this order.
        var write: [ByteBuffer] = []
        /// When to call ``flushIfDue(now:)``.
        var scheduleFlush: Instant?
        var succeed: [(Completion, MessageID)] = []
        var fail: [(Completion, PulsarClientError)] = []
        /// The connection must be dropped and the producer reconnected.
        var reconnect = false
        /// Flush barriers among `succeed` and `fail`: completions that are not messages.
        var barriers = 0

        /// Messages completed (each frees a place in the pending queue).
        var completedMessages: Int { self.succeed.count + self.fail.count - self.barriers }
    }

    enum Connection {
        case disconnected
        case connected
        case closed(PulsarClientError)
    }

    let producerID: UInt64
    let compression: MessageCompression
    let allocator: ByteBufferAllocator
    private(set) var producerName: String
    private(set) var connection: Connection = .disconnected
    private(set) var nextSequenceID: UInt64 = 0
    private var batch: BatchBuilder<Completion, Instant>
    private(set) var pending = CircularBuffer<Pending>()

    init(producerID: UInt64, producerName: String, batching: BatchPolicy, compression: MessageCompression, allocator: ByteBufferAllocator = .init()) {
        self.producerID = producerID
        self.producerName = producerName
        self.compression = compression
        self.allocator = allocator
        self.batch = BatchBuilder(policy: batching)
    }

    var isConnected: Bool {
        if case .connected = self.connection { return true }
        return false
    }

    /// Messages in the open batch.
    var batchedCount: Int { self.batch.count }

    /// A message to send. `publishTime` is the wall clock in milliseconds. With a
    /// `chunkSize`, a message larger than it is split into chunks of that size, each
    /// sent (and receipted) on its own under the message's one sequence id, after the
    /// open batch.
    mutating func send(_ message: OutgoingMessage, completion: Completion, now: Instant, publishTime: UInt64, chunkSize: Int? = nil) -> Actions {
        var actions = Actions()
        if case .closed(let error) = self.connection {
            actions.fail.append((completion, error))
            return actions
        }
        if let chunkSize, chunkSize > 0, message.payload.readableBytes > chunkSize {
            self.seal(now: now, publishTime: publishTime, into: &actions)
            self.sendChunked(message, completion: completion, chunkSize: chunkSize, now: now, publishTime: publishTime, into: &actions)
            return actions
        }
        if self.batch.needsFlush(before: message) { self.seal(now: now, publishTime: publishTime, into: &actions) }
        let sequenceID = self.nextSequenceID
        self.nextSequenceID += 1
        if self.batch.add(message, sequenceID: sequenceID, completion: completion, now: now) {
            self.seal(now: now, publishTime: publishTime, into: &actions)
        } else if self.batch.count == 1 {
            actions.scheduleFlush = self.batch.deadline
        }
        return actions
    }

    private mutating func sendChunked(
        _ message: OutgoingMessage, completion: Completion, chunkSize: Int, now: Instant, publishTime: UInt64, into actions: inout Actions
    ) {
        let sequenceID = self.nextSequenceID
        self.nextSequenceID += 1
        let frames: [ByteBuffer]
        do {
            frames = try BatchEncoding.chunkFrames(
                BatchEncoding.Item(message: message, sequenceID: sequenceID), chunkSize: chunkSize, producerID: self.producerID,
                producerName: self.producerName, compression: self.compression, publishTime: publishTime, allocator: self.allocator
            )
        } catch {
            actions.fail.append((completion, error))
            return
        }
        for (index, frame) in frames.enumerated() {
            // Only the last chunk's receipt completes the message, with the last chunk's id.
            let completions = index == frames.count - 1 ? [completion] : []
            self.pending.append(Pending(sequenceID: sequenceID, frame: frame, completions: completions, batched: false, sealedAt: now))
            if self.isConnected { actions.write.append(frame) }
        }
    }

    /// The flush timer fired: seals the open batch if it is due.
    mutating func flushIfDue(now: Instant, publishTime: UInt64) -> Actions {
        var actions = Actions()
        if self.batch.isDue(at: now) {
            self.seal(now: now, publishTime: publishTime, into: &actions)
        } else if let deadline = self.batch.deadline {
            actions.scheduleFlush = deadline
        }
        return actions
    }

    /// Seals the open batch now; `barrier`, when given, completes once everything sent
    /// so far is receipted (at once when nothing is pending).
    mutating func flush(now: Instant, publishTime: UInt64, barrier: Completion?) -> Actions {
        var actions = Actions()
        self.seal(now: now, publishTime: publishTime, into: &actions)
        if let barrier {
            if self.pending.isEmpty {
                actions.succeed.append((barrier, MessageID.earliest))
                actions.barriers += 1
            } else {
                self.pending[self.pending.index(before: self.pending.endIndex)].barriers.append(barrier)
            }
        }
        return actions
    }

    private mutating func seal(now: Instant, publishTime: UInt64, into actions: inout Actions) {
        guard !self.batch.isEmpty else { return }
        let entries = self.batch.take()
        let frame: ByteBuffer
        do {
            frame = try BatchEncoding.sendFrame(
                entries.map { BatchEncoding.Item(message: $0.message, sequenceID: $0.sequenceID) },
                batched: self.batch.policy.enabled, producerID: self.producerID, producerName: self.producerName,
                compression: self.compression, publishTime: publishTime, allocator: self.allocator
            )
        } catch {
            actions.fail += entries.map { ($0.completion, error) }
            return
        }
        self.pending.append(
            Pending(sequenceID: entries[0].sequenceID, frame: frame, completions: entries.map(\.completion), batched: self.batch.policy.enabled, sealedAt: now)
        )
        if self.isConnected { actions.write.append(frame) }
    }

    /// A SEND_RECEIPT for `sequenceID`, stored at `id`.
    mutating func receipt(sequenceID: UInt64, id: MessageID) -> Actions {
        var actions = Actions()
        guard let head = self.pending.first else { return actions }
        if sequenceID < head.sequenceID { return actions }
        guard sequenceID == head.sequenceID else {
            actions.reconnect = true
            return actions
        }
        self.pending.removeFirst()
        let count = Int32(head.completions.count)
        for (index, completion) in head.completions.enumerated() {
            var messageID = id
            if head.batched {
                messageID.batchIndex = Int32(index)
                messageID.batchSize = count
            }
            actions.succeed.append((completion, messageID))
        }
        actions.succeed += head.barriers.map { ($0, id) }
        actions.barriers += head.barriers.count
        return actions
    }

    /// The producer is (again) registered on a connection; `lastSequenceID` is what the
    /// broker stored last for this producer name (-1: none). Every pending batch is
    /// written again, oldest first.
    mutating func connected(producerName: String, lastSequenceID: Int64) -> Actions {
        var actions = Actions()
        if case .closed = self.connection { return actions }
        self.connection = .connected
        self.producerName = producerName
        if lastSequenceID >= 0, self.pending.isEmpty, self.batch.isEmpty {
            self.nextSequenceID = max(self.nextSequenceID, UInt64(lastSequenceID) + 1)
        }
        actions.write = self.pending.map(\.frame)
        return actions
    }

    /// The connection went; pending batches wait for the next one.
    mutating func disconnected() {
        if case .connected = self.connection { self.connection = .disconnected }
    }

    /// Fails every pending batch older than `timeout` at `now` (and the ones after it,
    /// which could not be receipted before it anyway).
    mutating func expire(now: Instant, timeout: Duration) -> Actions {
        var actions = Actions()
        guard let head = self.pending.first, head.sealedAt.advanced(by: timeout) <= now else { return actions }
        let error = PulsarClientError(.timeout, "no receipt within \(timeout)")
        while let pending = self.pending.popFirst() {
            actions.fail += (pending.completions + pending.barriers).map { ($0, error) }
            actions.barriers += pending.barriers.count
        }
        return actions
    }

    /// Closes the producer: everything not receipted fails with `error`.
    mutating func close(_ error: PulsarClientError) -> Actions {
        var actions = Actions()
        self.connection = .closed(error)
        while let pending = self.pending.popFirst() {
            actions.fail += (pending.completions + pending.barriers).map { ($0, error) }
            actions.barriers += pending.barriers.count
        }
        actions.fail += self.batch.take().map { ($0.completion, error) }
        return actions
    }
}

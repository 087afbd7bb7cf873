import NIOCore
import PulsarProto
import PulsarWire
import Synchronization

/// What waits to be written to one connection's channel, queued from any thread and
/// written with one flush per batch.
///
/// Small commands are packed into one buffer; a message's payload is kept as its own
/// buffer (a slice of what was stored, never copied) beside its header, so that the
/// flush is one vectored write. Queuing takes a lock; writing happens on the channel's
/// event loop only: at the end of a read (``drain()``), or in one task scheduled by the
/// first ``flush()`` after something was queued.
final class Outbox: Sendable {
    private struct State {
        var parts: [ByteBuffer] = []
        /// Whether the last part is a buffer of commands that more commands can join.
        var lastIsOpen = false
        var drainScheduled = false
        /// Bytes queued since the last drain.
        var bytes = 0
        /// Whether ``isFull`` answered true since the last drain.
        var refused = false
    }

    /// Bytes queued between two drains past which ``isFull`` says so (1 MiB): dispatch
    /// then waits for the drain instead of queuing more.
    static let limit = 1 << 20

    /// Called on the channel's loop after a drain that emptied an outbox ``isFull``
    /// refused: what waited for room is to be sent.
    var relieved: (@Sendable () -> Void)? {
        get { self.onRelieved.withLock { $0 } }
        set { self.onRelieved.withLock { $0 = newValue } }
    }

    private let onRelieved = Mutex<(@Sendable () -> Void)?>(nil)

    /// Whether the outbox holds ``limit`` bytes or more; remembered, so the next drain
    /// calls ``relieved``.
    var isFull: Bool {
        self.state.withLock { state in
            let full = state.bytes >= Self.limit
            if full { state.refused = true }
            return full
        }
    }

    private let state = Mutex(State())
    private let channel: any Channel

    init(channel: any Channel) {
        self.channel = channel
    }

    /// Queues a command without payload.
    func enqueue(_ command: Pulsar_Proto_BaseCommand) {
        self.state.withLock { state in
            var buffer = self.openBuffer(&state)
            // A command this broker built always has its required fields.
            let before = buffer.readableBytes
            try? PulsarFrame.write(command: command, into: &buffer)
            state.bytes += buffer.readableBytes - before
            state.parts[state.parts.count - 1] = buffer
        }
    }

    /// Queues a payload command whose `[u32 metadataSize][metadata][payload]` bytes are
    /// already encoded, with their checksum: the header is packed, the payload is not
    /// copied.
    func enqueue(_ command: Pulsar_Proto_BaseCommand, metadataAndPayload: ByteBuffer, checksum: UInt32) {
        self.state.withLock { state in
            var buffer = self.openBuffer(&state)
            let written = (try? PulsarFrame.writeHeader(
                command: command, metadataAndPayloadSize: metadataAndPayload.readableBytes, checksum: checksum, into: &buffer
            )) != nil
            state.parts[state.parts.count - 1] = buffer
            guard written else { return }
            state.parts.append(metadataAndPayload)
            state.bytes += metadataAndPayload.readableBytes + 64
            state.lastIsOpen = false
        }
    }

    /// The last part when more can be written into it, else a new one; taken out of the
    /// array so that writing into it does not copy it.
    private func openBuffer(_ state: inout State) -> ByteBuffer {
        if state.lastIsOpen {
            let buffer = state.parts[state.parts.count - 1]
            state.parts[state.parts.count - 1] = ByteBuffer()
            return buffer
        }
        state.parts.append(ByteBuffer())
        state.lastIsOpen = true
        return self.channel.allocator.buffer(capacity: 512)
    }

    /// Has what is queued written and flushed soon, from any thread: one task on the
    /// channel's loop serves every flush asked until it runs.
    func flush() {
        let schedule = self.state.withLock { state in
            guard !state.parts.isEmpty, !state.drainScheduled else { return false }
            state.drainScheduled = true
            return true
        }
        if schedule { self.channel.eventLoop.execute { self.drain() } }
    }

    /// Writes what is queued and flushes once. On the channel's event loop only.
    func drain() {
        let (parts, refused) = self.state.withLock { state in
            state.drainScheduled = false
            state.lastIsOpen = false
            state.bytes = 0
            defer {
                state.parts.removeAll(keepingCapacity: true)
                state.refused = false
            }
            return (state.parts, state.refused)
        }
        guard !parts.isEmpty else { return }
        for part in parts { self.channel.write(part, promise: nil) }
        self.channel.flush()
        // A socket that is not writable now resumes dispatch when it is again.
        if refused, self.channel.isWritable { self.relieved?() }
    }
}

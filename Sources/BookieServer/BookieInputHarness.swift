import BookieStorage
public import BookieWire
import Dispatch
import Foundation
import Ledger
import Metadata
import NIOCore
import NIOPosix
import Synchronization

/// The bookie protocol as a fuzzer drives it, with no socket: bytes as a client's
/// connection would carry them, through the bookie frame reader into the
/// ``BookieRequestProcessor`` over a real store (journal without fsync, in a scratch
/// directory) and the metadata-backed key check, every answer awaited before the next
/// input. Ledgers 1 to 3 exist in the metadata store with the key `fuzz`. Any trap, or a
/// request never answered, is a defect. `Sources/Fuzzing/BookieFrames` runs it under
/// libFuzzer.
public enum BookieInputHarness {
    /// The key of the ledgers the metadata store holds.
    public static let key = Array("fuzz".utf8)
    /// Inputs between two flushes of the store (which bound its write cache), and between
    /// two fresh stores (which bound its files).
    static let inputsPerFlush = 2_000
    static let inputsPerStore = 200_000
    /// How long one request may take to be answered before the harness calls it lost.
    static let answerDeadline = DispatchTimeInterval.seconds(10)

    private final class Rig: @unchecked Sendable {
        let directory: String
        let pool: NIOThreadPool
        let loop: any EventLoop
        let keys: MetadataLedgerKeys
        var store: BookieStore
        var processor: BookieRequestProcessor
        var inputs = 0

        init() {
            let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
            self.directory = (base as NSString).appendingPathComponent("magnetar-bookie-fuzz-\(getpid())")
            self.pool = NIOThreadPool(numberOfThreads: 1)
            self.pool.start()
            self.loop = MultiThreadedEventLoopGroup.singleton.next()
            let metadata = MemoryMetadataStore()
            let registered = DispatchSemaphore(value: 0)
            Task {
                for id in 1...3 { try? await LedgerMetadata.register(UInt64(id), password: "fuzz", bookies: ["fuzz"], in: metadata) }
                registered.signal()
            }
            registered.wait()
            self.keys = MetadataLedgerKeys(metadata: metadata)
            (self.store, self.processor) = Self.open(self.directory, pool: self.pool, keys: self.keys)
        }

        static func open(_ directory: String, pool: NIOThreadPool, keys: MetadataLedgerKeys) -> (BookieStore, BookieRequestProcessor) {
            try? FileManager.default.removeItem(atPath: directory)
            let journal = Journal.Configuration(
                directory: (directory as NSString).appendingPathComponent("journal"), syncEachGroup: false, maxGroupWait: .zero,
                maxFileSize: 16 << 20, preallocationStep: 1 << 20
            )
            let store: BookieStore
            do {
                store = try BookieStore.open(.init(journal: journal, ledgerDirectory: (directory as NSString).appendingPathComponent("ledgers")))
            } catch {
                fatalError("the fuzz harness cannot open its store in \(directory): \(error)")
            }
            let processor = BookieRequestProcessor(
                store: store, blockingPool: pool, metrics: BookieMetrics(), keys: keys, longPollCeiling: .milliseconds(1),
                info: { BookieInfo(freeBytes: 1 << 30, totalBytes: 1 << 31, readOnly: false) }
            )
            return (store, processor)
        }

        /// Flushes now and then, and starts a fresh store now and then.
        func inputDone() {
            self.inputs += 1
            if self.inputs % BookieInputHarness.inputsPerStore == 0 {
                self.store.close()
                (self.store, self.processor) = Self.open(self.directory, pool: self.pool, keys: self.keys)
            } else if self.inputs % BookieInputHarness.inputsPerFlush == 0 {
                try? self.store.flush()
            }
        }
    }

    private static let rig = Rig()

    /// Opens the store and the rest before the first input (what lives as long as the
    /// process is then not taken for a leak of that input).
    public static func prepare() {
        _ = Self.rig
    }

    public static func run(_ bytes: UnsafeRawBufferPointer) {
        _ = Self.answers(to: bytes)
    }

    /// The responses to the requests in `bytes`, in the order they completed.
    static func answers(to bytes: UnsafeRawBufferPointer) -> [BookieResponse] {
        let rig = Self.rig
        var reader = BookieFrameReader(maximumFrameSize: 1 << 16)
        let answered = DispatchSemaphore(value: 0)
        let responses = Mutex<[BookieResponse]>([])
        var requests = 0
        do {
            try reader.read(ByteBuffer(bytes: bytes)) { frame in
                requests += 1
                rig.processor.process(frame, loop: rig.loop) { response in
                    // What the connection would write.
                    var buffer = ByteBuffer()
                    response.write(into: &buffer)
                    responses.withLock { $0.append(response) }
                    answered.signal()
                }
            }
        } catch {
            // A stream that cannot be framed: a connection would be closed here.
        }
        for _ in 0..<requests where answered.wait(timeout: .now() + Self.answerDeadline) == .timedOut {
            fatalError("a bookie request was not answered within \(Self.answerDeadline)")
        }
        rig.inputDone()
        return responses.withLock { $0 }
    }

    /// Seed inputs: each request kind for ledger 1 with its key (an ADD, a READ, a long
    /// poll, a fencing READ, READ_LAC, WRITE_LAC, GET_INFO), and all of them in one stream.
    public static func seeds() -> [[UInt8]] {
        let entry = LedgerEntry(ledgerID: 1, entryID: 0, lastAddConfirmed: -1, ledgerLength: 4, payload: ByteBuffer(string: "seed"))
        var encoded = ByteBuffer()
        entry.write(into: &encoded)
        let requests: [BookieRequest.Body] = [
            .add(entry: encoded, ledgerKey: Self.key, recovery: false),
            .read(ReadRequest(ledgerID: 1, firstEntryID: 0)),
            .read(ReadRequest(ledgerID: 1, firstEntryID: 1, longPoll: .init(previousLAC: 0, timeoutMilliseconds: 10))),
            .readLAC(ledgerID: 1),
            .writeLAC(ledgerID: 1, lastAddConfirmed: 0, ledgerKey: Self.key),
            .read(ReadRequest(ledgerID: 1, firstEntryID: 0, fence: true, ledgerKey: Self.key)),
            .getInfo,
        ]
        var stream: [UInt8] = []
        var seeds: [[UInt8]] = []
        for (index, body) in requests.enumerated() {
            var buffer = ByteBuffer()
            BookieRequest(requestID: UInt64(index + 1), body).write(into: &buffer)
            seeds.append(Array(buffer.readableBytesView))
            stream += Array(buffer.readableBytesView)
        }
        return seeds + [stream]
    }
}

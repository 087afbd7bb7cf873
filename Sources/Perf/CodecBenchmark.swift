import Codec
public import NIOCore

/// Measures CRC32C, LZ4 and ZSTD on 1 KiB and 1 MiB buffers, beside a `memcpy` of the same
/// buffer as the reference measured in the same run.
public struct CodecBenchmark: Sendable {
    /// One measured operation on one buffer size.
    public struct Result: Codable, Sendable {
        public var operation: String
        public var size: Int
        /// Input bytes per second, in MB/s (10^6).
        public var mbPerSec: Double
        /// This operation's speed as a fraction of `memcpy` on the same buffer.
        public var ofMemcpy: Double
        /// Compressed size over input size, for compressors.
        public var ratio: Double?
    }

    public var sizes: [Int]
    public var timePerCase: Duration

    public init(sizes: [Int] = [1024, 1 << 20], timePerCase: Duration = .milliseconds(500)) {
        self.sizes = sizes
        self.timePerCase = timePerCase
    }

    public func run() throws -> [Result] {
        var results: [Result] = []
        for size in self.sizes {
            let input = Self.sampleData(size)
            let sink = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
            defer { sink.deallocate() }
            let memcpy = self.measure(size) {
                input.withUnsafeReadableBytes { sink.copyMemory(from: $0) }
            }
            func add(_ operation: String, _ rate: Double, ratio: Double? = nil) {
                results.append(Result(operation: operation, size: size, mbPerSec: rate, ofMemcpy: rate / memcpy, ratio: ratio))
            }
            add("memcpy", memcpy)
            var checksum: UInt32 = 0
            add("crc32c", self.measure(size) { checksum &+= CRC32C.checksum(input) })
            for codec in [CompressionType.lz4, .zstd] {
                let compressed = try codec.compress(input)
                let ratio = Double(compressed.readableBytes) / Double(size)
                add("\(codec)-compress", try self.measure(size) { _ = try codec.compress(input) }, ratio: ratio)
                add("\(codec)-decompress", try self.measure(size) { _ = try codec.decompress(compressed, uncompressedSize: size) })
            }
            if checksum == 1 { print("") }  // Keeps the checksum loop from being optimized away.
        }
        return results
    }

    /// Runs `body` repeatedly for `timePerCase` and returns MB/s of `size`-byte inputs.
    private func measure(_ size: Int, _ body: () throws -> Void) rethrows -> Double {
        let clock = ContinuousClock()
        var iterations = 0
        let start = clock.now
        var elapsed = Duration.zero
        repeat {
            for _ in 0..<max(1, (1 << 20) / size) {
                try body()
                iterations += 1
            }
            elapsed = clock.now - start
        } while elapsed < self.timePerCase
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Double(iterations) * Double(size) / seconds / 1e6
    }

    /// Log-like text (repeated words, numbers, some random bytes): compressible, not trivial.
    public static func sampleData(_ size: Int, seed: UInt64 = 1) -> ByteBuffer {
        var state = seed
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        let words = ["ledger", "entry", "bookie", "quorum", "fenced", "cursor", "topic", "ack", "batch", "producer"]
        var buffer = ByteBuffer()
        buffer.reserveCapacity(size + 32)
        while buffer.readableBytes < size {
            switch next() % 8 {
            case 0: buffer.writeString(String(next() % 100_000))
            case 1: buffer.writeInteger(UInt32(truncatingIfNeeded: next()))
            default: buffer.writeString(words[Int(next() % UInt64(words.count))])
            }
            buffer.writeString(" ")
        }
        return buffer.getSlice(at: 0, length: size)!
    }
}

import ClusterTesting
import Codec
import NIOCore
import Testing

@Suite struct CompressionTests {
    static let codecs: [CompressionType] = [.lz4, .zstd]

    /// Text-like bytes that compress, with some random bytes that do not.
    static func sample(_ count: Int) -> ByteBuffer {
        precondition(count <= Self.largeSample.readableBytes)
        return Self.largeSample.getSlice(at: 0, length: count)!
    }

    /// 1 MiB of sample bytes, made once for every test.
    static let largeSample = Self.makeSample(1 << 20, seed: 7)

    static func makeSample(_ count: Int, seed: UInt64) -> ByteBuffer {
        var generator = SplitMix64(seed: seed)
        let words = ["ledger", "entry", "bookie", "quorum", "fence", "cursor", "topic", " "]
        var buffer = ByteBuffer()
        while buffer.readableBytes < count {
            if Int.random(in: 0..<10, using: &generator) == 0 {
                buffer.writeInteger(UInt8.random(in: 0...255, using: &generator))
            } else {
                buffer.writeString(words.randomElement(using: &generator)!)
            }
        }
        return buffer.getSlice(at: 0, length: count)!
    }

    @Test(arguments: codecs, [0, 1, 100, 1024, 65_536, 1 << 20])
    func roundTrip(codec: CompressionType, size: Int) throws {
        let original = Self.sample(size)
        let compressed = try codec.compress(original)
        let restored = try codec.decompress(compressed, uncompressedSize: size)
        #expect(restored == original)
        if size >= 1024 {
            #expect(compressed.readableBytes < size)
        }
    }

    @Test(arguments: codecs)
    func wrongStatedSizeIsRejected(codec: CompressionType) throws {
        let original = Self.sample(4096)
        let compressed = try codec.compress(original)
        for lie in [0, 4095, 4097, 8192] {
            let error = #expect(throws: CodecError.self) {
                try codec.decompress(compressed, uncompressedSize: lie)
            }
            #expect(error?.code == .sizeMismatch || error?.code == .corruptInput, "stated \(lie)")
        }
    }

    @Test(arguments: codecs)
    func statedSizeAboveTheCapAllocatesNothing(codec: CompressionType) throws {
        let compressed = try codec.compress(Self.sample(1000))
        let error = #expect(throws: CodecError.self) {
            try codec.decompress(compressed, uncompressedSize: 1 << 40)
        }
        #expect(error?.code == .limitExceeded)
        let negative = #expect(throws: CodecError.self) {
            try codec.decompress(compressed, uncompressedSize: -1)
        }
        #expect(negative?.code == .limitExceeded)
        let capped = #expect(throws: CodecError.self) {
            try codec.decompress(compressed, uncompressedSize: 1000, limit: 999)
        }
        #expect(capped?.code == .limitExceeded)
    }

    @Test(arguments: codecs)
    func truncatedInputIsRejected(codec: CompressionType) throws {
        let compressed = try codec.compress(Self.sample(8192))
        for keep in [0, 1, compressed.readableBytes / 2, compressed.readableBytes - 1] {
            #expect(throws: CodecError.self, "kept \(keep) bytes") {
                try codec.decompress(compressed.getSlice(at: compressed.readerIndex, length: keep)!, uncompressedSize: 8192)
            }
        }
    }

    @Test(arguments: codecs)
    func corruptedInputNeverCrashes(codec: CompressionType) throws {
        let original = Self.sample(8192)
        let compressed = try codec.compress(original)
        var generator = SplitMix64(seed: 99)
        var rejected = 0
        for _ in 0..<500 {
            var damaged = compressed
            let flips = Int.random(in: 1...4, using: &generator)
            for _ in 0..<flips {
                let index = Int.random(in: 0..<damaged.readableBytes, using: &generator)
                let byte = damaged.getInteger(at: index, as: UInt8.self)!
                damaged.setInteger(byte ^ UInt8.random(in: 1...255, using: &generator), at: index)
            }
            // A damaged block either fails cleanly or still yields exactly the stated size.
            do {
                let output = try codec.decompress(damaged, uncompressedSize: 8192)
                #expect(output.readableBytes == 8192)
            } catch {
                rejected += 1
            }
        }
        #expect(rejected > 0)
    }

    @Test func garbageIsNotAZstdFrame() {
        let garbage = ByteBuffer(bytes: [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08])
        let error = #expect(throws: CodecError.self) {
            try Zstd.decompress(garbage, uncompressedSize: 10)
        }
        #expect(error?.code == .corruptInput)
    }

    @Test func noneChecksTheSize() throws {
        let payload = ByteBuffer(string: "plain")
        #expect(try CompressionType.none.decompress(payload, uncompressedSize: 5) == payload)
        #expect(throws: CodecError.self) { try CompressionType.none.decompress(payload, uncompressedSize: 6) }
    }

    @Test func unsupportedTypesSayso() {
        #expect(!CompressionType.snappy.isSupported)
        #expect(throws: CodecError.self) { try CompressionType.zlib.compress(ByteBuffer(string: "x")) }
    }
}

import Codec
import Testing

@Suite struct CRC32Tests {
    @Test func knownVectors() {
        #expect(CRC32.checksum("123456789".utf8) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
        #expect(CRC32.checksum("".utf8) == 0)
        #expect(CRC32.checksum("The quick brown fox jumps over the lazy dog".utf8) == 0x414F_A339)
        #expect(CRC32.checksum("a".utf8) == 0xE8B7_BE43)
        // Every byte value once, in order (zlib.crc32(bytes(range(256)))).
        #expect(CRC32.checksum((0...255).map { UInt8($0) }) == 0x2905_8C73)
    }

    @Test func acceptsAnySequenceOfBytes() {
        let text = "persistent://public/default/my-topic"
        let expected = CRC32.checksum(Array(text.utf8))
        #expect(CRC32.checksum(text.utf8) == expected)
        #expect(CRC32.checksum(Array(text.utf8)[...]) == expected)
        #expect(CRC32.checksum(text.utf8.lazy.map { $0 }) == expected)
    }

    @Test func differsFromCRC32C() {
        #expect(CRC32.checksum("123456789".utf8) != CRC32C.checksum(Array("123456789".utf8)))
    }
}

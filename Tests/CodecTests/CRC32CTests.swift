import ClusterTesting
import Codec
import Testing

/// A plain byte-at-a-time table CRC32C, the reference the accelerated one is checked against.
private struct TableCRC32C {
    private let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 {
            crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1
        }
        return crc
    }

    func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc = self.table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        return ~crc
    }
}

@Suite struct CRC32CTests {
    @Test func knownVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        // RFC 3720 B.4: 32 bytes of zeros, 32 bytes of 0xFF, an ascending sequence.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
    }

    @Test func matchesTableImplementationOnRandomInputs() {
        var generator = SplitMix64(seed: 0x5EED)
        let reference = TableCRC32C()
        for _ in 0..<300 {
            let count = Int.random(in: 0...5000, using: &generator)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(CRC32C.checksum(bytes) == reference.checksum(bytes), "length \(count)")
        }
    }

    @Test func continuesAcrossPieces() {
        var generator = SplitMix64(seed: 42)
        let bytes = (0..<10_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for split in [0, 1, 7, 64, 4096, 9999, 10_000] {
            let first = CRC32C.checksum(bytes[..<split])
            #expect(CRC32C.checksum(bytes[split...], continuing: first) == CRC32C.checksum(bytes))
        }
    }
}

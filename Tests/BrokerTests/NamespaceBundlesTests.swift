@testable import Broker
import Foundation
import Testing

@Suite("Namespace bundles")
struct NamespaceBundlesTests {
    @Test func fourEqualBundles() {
        let bundles = NamespaceBundles(count: 4)
        #expect(bundles.boundaries == [0x0000_0000, 0x4000_0000, 0x8000_0000, 0xC000_0000, 0xFFFF_FFFF])
        #expect(bundles.count == 4)
        #expect(
            bundles.ranges.map(\.name) == [
                "0x00000000_0x40000000", "0x40000000_0x80000000", "0x80000000_0xc0000000", "0xc0000000_0xffffffff",
            ]
        )
        #expect(bundles.ranges[1].description == "0x40000000_0x80000000")
    }

    @Test func oneBundleIsTheFullRange() {
        let bundles = NamespaceBundles(count: 1)
        #expect(bundles.boundaries == [0, 0xFFFF_FFFF])
        #expect(bundles.ranges == [BundleRange.full])
        #expect(BundleRange.full.name == "0x00000000_0xffffffff")
        #expect(bundles.bundle(forHash: 0) == .full)
        #expect(bundles.bundle(forHash: 0xFFFF_FFFF) == .full)
    }

    @Test(arguments: [2, 3, 5, 16, 100, 65536])
    func bundlesCoverTheSpaceWithoutGaps(count: Int) {
        let bundles = NamespaceBundles(count: count)
        let ranges = bundles.ranges
        #expect(ranges.count == count)
        #expect(ranges.first?.lower == 0)
        #expect(ranges.last?.upper == 0xFFFF_FFFF)
        for (left, right) in zip(ranges, ranges.dropFirst()) {
            #expect(left.upper == right.lower)
            #expect(left < right)
        }
        let segment = UInt32((UInt64(1) << 32) / UInt64(count))
        #expect(bundles.boundaries.dropLast().enumerated().allSatisfy { $1 == segment &* UInt32($0) })
    }

    @Test func threeBundlesMatchPulsar() {
        #expect(NamespaceBundles(count: 3).boundaries == [0, 0x5555_5555, 0xAAAA_AAAA, 0xFFFF_FFFF])
    }

    @Test func eachHashIsInExactlyOneBundle() {
        let bundles = NamespaceBundles(count: 16)
        let probes: [UInt32] = [
            0, 1, 0x0FFF_FFFF, 0x1000_0000, 0x1000_0001, 0x7FFF_FFFF, 0x8000_0000, 0xEFFF_FFFF, 0xF000_0000, 0xFFFF_FFFE,
            0xFFFF_FFFF,
        ]
        for hash in probes {
            let holders = bundles.ranges.filter { $0.contains(hash) }
            #expect(holders.count == 1, "hash \(hash)")
            #expect(holders.first == bundles.bundle(forHash: hash), "hash \(hash)")
        }
        #expect(bundles.bundle(forHash: 0x1000_0000).name == "0x10000000_0x20000000")
        #expect(bundles.bundle(forHash: 0x0FFF_FFFF).name == "0x00000000_0x10000000")
    }

    @Test func lastBundleHoldsTheTopHash() {
        let bundles = NamespaceBundles(count: 4)
        let last = BundleRange(lower: 0xC000_0000, upper: 0xFFFF_FFFF)
        #expect(last.contains(0xFFFF_FFFF))
        #expect(bundles.bundle(forHash: 0xFFFF_FFFF) == last)
        let inner = BundleRange(lower: 0x4000_0000, upper: 0x8000_0000)
        #expect(inner.contains(0x4000_0000))
        #expect(!inner.contains(0x8000_0000))
        #expect(!inner.contains(0x3FFF_FFFF))
    }

    /// Expected values are zlib.crc32 of each name, computed outside Swift.
    @Test func topicHashIsCRC32OfTheFullName() {
        #expect(NamespaceBundles.hash("persistent://public/default/my-topic") == 0x2BAD_45F7)
        #expect(NamespaceBundles.hash("persistent://public/default/my-topic-partition-0") == 0x3D4B_4235)
        #expect(NamespaceBundles.hash("persistent://public/default/my-topic-partition-3") == 0xA442_138F)
        #expect(NamespaceBundles.hash("persistent://tenant-a/ns1/orders") == 0x92F0_D22E)
        #expect(NamespaceBundles.hash("non-persistent://public/default/t") == 0xC917_9F49)
        let bundles = NamespaceBundles(count: 4)
        #expect(bundles.bundle(forTopic: "persistent://public/default/my-topic").name == "0x00000000_0x40000000")
        #expect(bundles.bundle(forTopic: "persistent://public/default/my-topic-partition-3").name == "0x80000000_0xc0000000")
        #expect(bundles.bundle(forTopic: "non-persistent://public/default/t").name == "0xc0000000_0xffffffff")
    }

    @Test func parsesRangeNames() {
        #expect(BundleRange(name: "0x40000000_0x80000000") == BundleRange(lower: 0x4000_0000, upper: 0x8000_0000))
        #expect(BundleRange(name: "0XC0000000_0xFFFFFFFF") == BundleRange(lower: 0xC000_0000, upper: 0xFFFF_FFFF))
        #expect(BundleRange(name: "0x00000000_0xffffffff") == .full)
        for bad in [
            "", "_", "0x40000000", "0x40000000_", "0x4000000_0x80000000", "0x400000000_0x80000000",
            "40000000_0x80000000", "0x80000000_0x40000000", "0x40000000_0x40000000", "0x4000000g_0x80000000",
            "0x40000000_0x80000000_0xc0000000", " 0x40000000_0x80000000", "0x+4000000_0x80000000",
        ] {
            #expect(BundleRange(name: bad) == nil, "\(bad)")
        }
    }

    @Test func rangeNamedIsOnlyACurrentBundle() {
        let bundles = NamespaceBundles(count: 4)
        #expect(bundles.range(named: "0x40000000_0x80000000") == BundleRange(lower: 0x4000_0000, upper: 0x8000_0000))
        #expect(bundles.range(named: "0xC0000000_0xFFFFFFFF")?.name == "0xc0000000_0xffffffff")
        #expect(bundles.range(named: "0x00000000_0xffffffff") == nil)
        #expect(bundles.range(named: "0x40000000_0xc0000000") == nil)
        #expect(bundles.range(named: "0x40000001_0x80000000") == nil)
        #expect(bundles.range(named: "junk") == nil)
    }

    @Test func splittingReplacesABundleByItsHalves() throws {
        let bundles = NamespaceBundles(count: 4)
        let split = try bundles.splitting(BundleRange(lower: 0x4000_0000, upper: 0x8000_0000))
        #expect(split.boundaries == [0, 0x4000_0000, 0x6000_0000, 0x8000_0000, 0xC000_0000, 0xFFFF_FFFF])
        #expect(split.count == 5)
        #expect(split.range(named: "0x40000000_0x60000000") != nil)
        #expect(split.range(named: "0x40000000_0x80000000") == nil)
        // The last bundle splits at its middle too; the top hash stays in the upper half.
        let top = try split.splitting(BundleRange(lower: 0xC000_0000, upper: 0xFFFF_FFFF))
        #expect(top.ranges.suffix(2).map(\.name) == ["0xc0000000_0xdfffffff", "0xdfffffff_0xffffffff"])
        #expect(top.bundle(forHash: 0xFFFF_FFFF).name == "0xdfffffff_0xffffffff")
        // A range that is not a current bundle, or is too small, is refused.
        #expect(throws: BrokerError.self) { try bundles.splitting(BundleRange(lower: 0x4000_0000, upper: 0x6000_0000)) }
        let tiny = try NamespaceBundles(boundaries: [0, 1, 0xFFFF_FFFF])
        #expect(throws: BrokerError.self) { try tiny.splitting(BundleRange(lower: 0, upper: 1)) }
        #expect(BundleRange(lower: 0, upper: 1).halves() == nil)
        let pair = try #require(BundleRange(lower: 4, upper: 6).halves())
        #expect(pair.0 == BundleRange(lower: 4, upper: 5))
        #expect(pair.1 == BundleRange(lower: 5, upper: 6))
    }

    @Test func explicitBoundariesAreValidated() throws {
        #expect(try NamespaceBundles(boundaries: [0, 0x1234_5678, 0xFFFF_FFFF]).count == 2)
        let invalid: [[UInt32]] = [[], [0], [1, 0xFFFF_FFFF], [0, 0xFFFF_FFFE], [0, 0x10, 0x10, 0xFFFF_FFFF], [0, 0x20, 0x10, 0xFFFF_FFFF]]
        for bad in invalid {
            #expect(throws: BrokerError.self, "\(bad)") { try NamespaceBundles(boundaries: bad) }
        }
    }

    @Test func encodesPulsarBundlesData() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(NamespaceBundles(count: 4)), as: UTF8.self)
        #expect(text == #"{"boundaries":["0x00000000","0x40000000","0x80000000","0xc0000000","0xffffffff"],"numBundles":4}"#)
        let split = try NamespaceBundles(count: 2).splitting(BundleRange(lower: 0, upper: 0x8000_0000))
        for bundles in [NamespaceBundles(count: 1), NamespaceBundles(count: 3), split] {
            #expect(try JSONDecoder().decode(NamespaceBundles.self, from: encoder.encode(bundles)) == bundles)
        }
    }

    @Test func decodesPulsarBundlesData() throws {
        let decoded = try Self.decode(#"{"numBundles": 2, "boundaries": ["0x00000000", "0x7FFFFFFF", "0xFFFFFFFF"]}"#)
        #expect(decoded.boundaries == [0, 0x7FFF_FFFF, 0xFFFF_FFFF])
        // As Pulsar's admin API accepts: a count alone, or without boundaries.
        #expect(try Self.decode(#"{"numBundles": 4}"#) == NamespaceBundles(count: 4))
        #expect(try Self.decode(#"{"numBundles": 8, "boundaries": null}"#) == NamespaceBundles(count: 8))
        #expect(try Self.decode(#"{"boundaries": ["0x00000000", "0xffffffff"]}"#) == NamespaceBundles(count: 1))
    }

    @Test(arguments: [
        #"{}"#,
        #"{"boundaries": "0x00000000"}"#,
        #"{"boundaries": [0, 4294967295], "numBundles": 1}"#,
        #"{"boundaries": ["0x0", "0xffffffff"], "numBundles": 1}"#,
        #"{"boundaries": ["00000000", "0xffffffff"], "numBundles": 1}"#,
        #"{"boundaries": ["0x00000000", "0xfffffffff"], "numBundles": 1}"#,
        #"{"boundaries": ["0x00000000", "0xffffffzz"], "numBundles": 1}"#,
        #"{"boundaries": ["0x00000000"], "numBundles": 0}"#,
        #"{"boundaries": ["0x00000001", "0xffffffff"], "numBundles": 1}"#,
        #"{"boundaries": ["0x00000000", "0xfffffffe"], "numBundles": 1}"#,
        #"{"boundaries": ["0x00000000", "0x80000000", "0x40000000", "0xffffffff"], "numBundles": 3}"#,
        #"{"boundaries": ["0x00000000", "0x80000000", "0x80000000", "0xffffffff"], "numBundles": 3}"#,
        #"{"boundaries": ["0x00000000", "0x80000000", "0xffffffff"], "numBundles": 3}"#,
        #"{"boundaries": ["0x00000000", "0x80000000", "0xffffffff"], "numBundles": "2"}"#,
        #"{"numBundles": 0}"#,
        #"{"numBundles": -1}"#,
        #"{"numBundles": 65537}"#,
    ])
    func rejectsMalformedBundlesData(json: String) {
        #expect(throws: DecodingError.self) { try Self.decode(json) }
    }

    private static func decode(_ json: String) throws -> NamespaceBundles {
        try JSONDecoder().decode(NamespaceBundles.self, from: Data(json.utf8))
    }
}

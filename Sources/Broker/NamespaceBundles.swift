import Codec

/// How a namespace's topic-hash space is cut into bundles, the unit of topic ownership,
/// and Pulsar's `BundlesData` JSON for it:
/// `{"boundaries":["0x00000000","0x80000000","0xffffffff"],"numBundles":2}`.
///
/// The boundaries are strictly increasing, start at `0x00000000` and end at `0xFFFFFFFF`,
/// so the bundles between them cover every hash exactly once. A topic belongs to the
/// bundle holding the CRC-32 (IEEE) of its full name, as Pulsar places it.
struct NamespaceBundles: Hashable, Sendable, Codable {
    /// The most bundles a namespace may have.
    static let maxCount = 65536

    /// The bundle edges: `count + 1` values from 0 to `0xFFFFFFFF`.
    private(set) var boundaries: [UInt32]

    /// `count` bundles of equal size, the last one taking the remainder, as Pulsar
    /// creates them: for 4, boundaries 0x00000000, 0x40000000, 0x80000000, 0xc0000000
    /// and 0xffffffff.
    init(count: Int) {
        precondition((1...Self.maxCount).contains(count), "a namespace has 1...\(Self.maxCount) bundles")
        let segment = UInt64(1) << 32 / UInt64(count)
        self.boundaries = (0..<UInt64(count)).map { UInt32(segment * $0) } + [.max]
    }

    /// Bundles with the given edges; refused unless they are strictly increasing, start
    /// at 0, end at `0xFFFFFFFF` and make at most ``maxCount`` bundles.
    init(boundaries: [UInt32]) throws(BrokerError) {
        if let problem = Self.problem(with: boundaries) {
            throw BrokerError(.notAllowed, "invalid bundle boundaries: \(problem)")
        }
        self.init(checked: boundaries)
    }

    /// Bundles with edges already known to be valid.
    private init(checked boundaries: [UInt32]) {
        self.boundaries = boundaries
    }

    /// The bundles in hash order.
    var ranges: [BundleRange] {
        zip(self.boundaries, self.boundaries.dropFirst()).map { BundleRange(lower: $0, upper: $1) }
    }

    /// How many bundles there are.
    var count: Int { self.boundaries.count - 1 }

    /// The hash a topic is placed by: CRC-32 of its full name's UTF-8
    /// (`persistent://tenant/namespace/topic`, with `-partition-N` for a partition).
    static func hash(_ topic: String) -> UInt32 {
        CRC32.checksum(topic.utf8)
    }

    /// The bundle holding `hash`.
    func bundle(forHash hash: UInt32) -> BundleRange {
        let index = self.startIndex(for: hash)
        return BundleRange(lower: self.boundaries[index], upper: self.boundaries[index + 1])
    }

    /// The bundle holding the topic of full name `fullName`.
    func bundle(forTopic fullName: String) -> BundleRange {
        self.bundle(forHash: Self.hash(fullName))
    }

    /// The current bundle of name `name`; nil when the name is malformed or not one of
    /// ``ranges`` (a bundle since split, or never there).
    func range(named name: String) -> BundleRange? {
        guard let range = BundleRange(name: name), self.index(of: range) != nil else { return nil }
        return range
    }

    /// These bundles with `range` replaced by its two ``BundleRange/halves()``; refused
    /// when `range` is not a current bundle, is too small to split, or the namespace
    /// already has ``maxCount`` bundles.
    func splitting(_ range: BundleRange) throws(BrokerError) -> NamespaceBundles {
        guard let index = self.index(of: range) else {
            throw BrokerError(.notAllowed, "bundle \(range) is not a bundle of the namespace")
        }
        guard let (first, _) = range.halves() else {
            throw BrokerError(.notAllowed, "bundle \(range) is too small to split")
        }
        guard self.count < Self.maxCount else {
            throw BrokerError(.notAllowed, "the namespace already has \(Self.maxCount) bundles")
        }
        var split = self
        split.boundaries.insert(first.upper, at: index + 1)
        return split
    }

    /// The index of the boundary `range` starts at, when `range` is a current bundle.
    private func index(of range: BundleRange) -> Int? {
        let index = self.startIndex(for: range.lower)
        guard self.boundaries[index] == range.lower, self.boundaries[index + 1] == range.upper else { return nil }
        return index
    }

    /// The index of the last boundary not above `hash`, among all but the final one: the
    /// start of the bundle holding `hash`. A binary search.
    private func startIndex(for hash: UInt32) -> Int {
        var low = 0
        var high = self.boundaries.count - 2
        while low < high {
            let middle = (low + high + 1) / 2
            if self.boundaries[middle] <= hash { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// What is wrong with `boundaries` as bundle edges, or nil when nothing is.
    private static func problem(with boundaries: [UInt32]) -> String? {
        guard boundaries.count >= 2 else { return "need at least 2, got \(boundaries.count)" }
        guard boundaries.count - 1 <= Self.maxCount else { return "more than \(Self.maxCount) bundles" }
        guard boundaries.first == 0 else { return "the first must be 0x00000000" }
        guard boundaries.last == .max else { return "the last must be 0xffffffff" }
        guard zip(boundaries, boundaries.dropFirst()).allSatisfy({ $0 < $1 }) else { return "not strictly increasing" }
        return nil
    }
}

extension NamespaceBundles {
    private enum CodingKeys: String, CodingKey {
        case boundaries
        case numBundles
    }

    /// Decodes Pulsar's `BundlesData`. Boundaries given must be strings of `0x` and 8
    /// hex digits forming valid edges, and `numBundles`, when also given, must count
    /// them; `numBundles` alone (as Pulsar's admin API accepts) means that many equal
    /// bundles.
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let number = try container.decodeIfPresent(Int.self, forKey: .numBundles)
        guard let texts = try container.decodeIfPresent([String].self, forKey: .boundaries), !texts.isEmpty else {
            guard let number else {
                throw DecodingError.keyNotFound(
                    CodingKeys.boundaries,
                    DecodingError.Context(codingPath: decoder.codingPath, debugDescription: "neither boundaries nor numBundles")
                )
            }
            guard (1...Self.maxCount).contains(number) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .numBundles,
                    in: container,
                    debugDescription: "numBundles must be 1...\(Self.maxCount), got \(number)"
                )
            }
            self.init(count: number)
            return
        }
        var boundaries: [UInt32] = []
        for text in texts {
            guard let boundary = BundleRange.boundary(text) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .boundaries,
                    in: container,
                    debugDescription: "boundary '\(text)' is not 0x and 8 hex digits"
                )
            }
            boundaries.append(boundary)
        }
        if let problem = Self.problem(with: boundaries) {
            throw DecodingError.dataCorruptedError(forKey: .boundaries, in: container, debugDescription: problem)
        }
        if let number, number != boundaries.count - 1 {
            throw DecodingError.dataCorruptedError(
                forKey: .numBundles,
                in: container,
                debugDescription: "numBundles is \(number) but there are \(boundaries.count - 1) bundles"
            )
        }
        self.init(checked: boundaries)
    }

    /// Encodes Pulsar's `BundlesData`: the boundaries as lowercase hex strings and their
    /// bundle count.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.boundaries.map(BundleRange.text(of:)), forKey: .boundaries)
        try container.encode(self.count, forKey: .numBundles)
    }
}

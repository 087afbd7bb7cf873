/// One bundle of a namespace: a slice `[lower, upper)` of the 32-bit topic-hash space,
/// named as Pulsar names it, `0x40000000_0x80000000`.
///
/// A range always has `lower < upper`. It holds the hashes `lower ≤ h < upper`; the
/// range that ends at `0xFFFFFFFF` also holds `0xFFFFFFFF`, so the bundles of a
/// namespace cover every hash exactly once. Ranges order by `lower`, then `upper`.
struct BundleRange: Hashable, Sendable, Comparable, CustomStringConvertible {
    var lower: UInt32
    var upper: UInt32

    /// The whole hash space, `0x00000000_0xffffffff`: the one bundle of an unsplit namespace.
    static let full = BundleRange(lower: 0, upper: .max)

    /// The range `[lower, upper)`; `lower` must be below `upper`.
    init(lower: UInt32, upper: UInt32) {
        precondition(lower < upper, "a bundle range needs lower < upper")
        self.lower = lower
        self.upper = upper
    }

    /// Parses a range name, `0x` and 8 hex digits for each end joined by `_`, in any
    /// case; nil for anything else or when the ends are not increasing.
    init?(name: String) {
        let ends = name.split(separator: "_", omittingEmptySubsequences: false)
        guard ends.count == 2, let lower = Self.boundary(ends[0]), let upper = Self.boundary(ends[1]), lower < upper else {
            return nil
        }
        self.init(lower: lower, upper: upper)
    }

    /// The range's name, lowercase hex: `0x40000000_0x80000000`.
    var name: String { "\(Self.text(of: self.lower))_\(Self.text(of: self.upper))" }

    var description: String { self.name }

    /// Whether the bundle holds topics of hash `hash`.
    func contains(_ hash: UInt32) -> Bool {
        hash >= self.lower && (hash < self.upper || (self.upper == .max && hash == .max))
    }

    /// The two ranges this one splits into at its middle, `lower + (upper - lower) / 2`;
    /// nil when it spans fewer than two hashes.
    func halves() -> (BundleRange, BundleRange)? {
        guard self.upper - self.lower >= 2 else { return nil }
        let middle = self.lower + (self.upper - self.lower) / 2
        return (BundleRange(lower: self.lower, upper: middle), BundleRange(lower: middle, upper: self.upper))
    }

    /// Whether the two ranges share a hash.
    func overlaps(_ other: BundleRange) -> Bool {
        UInt64(self.lower) < other.end && UInt64(other.lower) < self.end
    }

    /// The first hash past the range (the last range holds `UInt32.max` too).
    private var end: UInt64 { UInt64(self.upper) + (self.upper == .max ? 1 : 0) }

    static func < (left: BundleRange, right: BundleRange) -> Bool {
        (left.lower, left.upper) < (right.lower, right.upper)
    }

    /// A boundary as Pulsar writes it: `0x` and 8 lowercase hex digits.
    static func text(of boundary: UInt32) -> String {
        let digits = String(boundary, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// Parses `0x` (or `0X`) followed by exactly 8 hex digits of either case.
    static func boundary(_ text: some StringProtocol) -> UInt32? {
        let utf8 = Array(text.utf8)
        guard utf8.count == 10, utf8[0] == UInt8(ascii: "0"), utf8[1] == UInt8(ascii: "x") || utf8[1] == UInt8(ascii: "X")
        else { return nil }
        var value: UInt32 = 0
        for byte in utf8[2...] {
            guard let digit = Self.hexDigit(byte) else { return nil }
            value = value << 4 | digit
        }
        return value
    }

    private static func hexDigit(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}

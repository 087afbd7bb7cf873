import ArgumentParser

/// A size as pulsar-admin writes it: a whole number of bytes, or one followed by `k`,
/// `m`, `g` or `t` (either case) for KiB, MiB, GiB or TiB; `-1` means unlimited.
///
/// `10M` is 10 × 1024 × 1024 bytes. Anything else, an overflow included, is refused.
struct ByteSize: Equatable, Sendable, ExpressibleByArgument, CustomStringConvertible {
    var bytes: Int64

    init(bytes: Int64) { self.bytes = bytes }

    init?(argument: String) { try? self.init(parsing: argument) }

    init(parsing text: String) throws(AdminError) {
        let shifts: [Character: Int64] = ["k": 10, "m": 20, "g": 30, "t": 40]
        var digits = Substring(text)
        var shift: Int64 = 0
        if let last = text.last, let unit = shifts[Character(last.lowercased())] {
            shift = unit
            digits = digits.dropLast()
        }
        guard let number = Int64(digits) else {
            throw AdminError(.invalidArgument, "'\(text)' is not a size (e.g. 4096, 500K, 10M, 16G, 3T)")
        }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: 1 << shift)
        guard !overflow else { throw AdminError(.invalidArgument, "size '\(text)' is too large") }
        self.bytes = bytes
    }

    /// The size in whole MiB as Pulsar's retention wants it, `-1` (unlimited) kept.
    var megabytes: Int64 { self.bytes < 0 ? -1 : self.bytes >> 20 }

    var description: String { String(self.bytes) }
}

import ArgumentParser

/// A duration as pulsar-admin writes it: a whole number of seconds, or one followed by
/// `s`, `m` (minutes), `h`, `d`, `w` or `y` (365 days); `-1` means unlimited where a
/// command allows it.
///
/// Units are lower case (`m` is always minutes). Anything else, an overflow included, is
/// refused.
struct RelativeTime: Equatable, Sendable, ExpressibleByArgument, CustomStringConvertible {
    var seconds: Int64

    init(seconds: Int64) { self.seconds = seconds }

    init?(argument: String) { try? self.init(parsing: argument) }

    init(parsing text: String) throws(AdminError) {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800, "y": 31_536_000]
        var digits = Substring(text)
        var unit: Int64 = 1
        if let last = text.last, let seconds = units[last] {
            unit = seconds
            digits = digits.dropLast()
        }
        guard let number = Int64(digits) else {
            throw AdminError(.invalidArgument, "'\(text)' is not a time (e.g. 120, 30s, 10m, 3h, 2d, 1w)")
        }
        let (seconds, overflow) = number.multipliedReportingOverflow(by: unit)
        guard !overflow else { throw AdminError(.invalidArgument, "time '\(text)' is too large") }
        self.seconds = seconds
    }

    /// The time in whole minutes as Pulsar's retention wants it, `-1` (unlimited) kept.
    var minutes: Int64 { self.seconds < 0 ? -1 : self.seconds / 60 }

    var description: String { String(self.seconds) }
}

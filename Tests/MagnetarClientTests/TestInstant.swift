/// An instant of a hand-driven clock, for the decisions that take the time.
struct TestInstant: InstantProtocol, Hashable, Sendable {
    var offset: Duration

    static let zero = TestInstant(offset: .zero)

    func advanced(by duration: Duration) -> TestInstant { TestInstant(offset: self.offset + duration) }
    func duration(to other: TestInstant) -> Duration { other.offset - self.offset }
    static func < (lhs: TestInstant, rhs: TestInstant) -> Bool { lhs.offset < rhs.offset }
}

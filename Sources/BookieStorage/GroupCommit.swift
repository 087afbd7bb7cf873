/// When the journal writes the group of appends it has gathered: as soon as no more are
/// queued (nothing gains by waiting), when the oldest has waited `maxWait`, when
/// `maxBytes` are gathered, or when the journal closes. A pure value over any clock's
/// instants, so the rule is tested without threads or time.
struct GroupCommit<Instant: InstantProtocol> {
    let maxWait: Instant.Duration
    let maxBytes: Int
    /// When the oldest append of the open group was queued; nil when the group is empty.
    private(set) var oldest: Instant?

    init(maxWait: Instant.Duration, maxBytes: Int) {
        self.maxWait = maxWait
        self.maxBytes = maxBytes
    }

    /// An append queued at `instant` joined the group.
    mutating func added(queuedAt instant: Instant) {
        self.oldest = self.oldest.map { min($0, instant) } ?? instant
    }

    /// Whether to write the group now, with `bytes` gathered.
    func shouldCommit(now: Instant, bytes: Int, queueDrained: Bool, closing: Bool) -> Bool {
        guard let oldest = self.oldest else { return false }
        return queueDrained || closing || bytes >= self.maxBytes || oldest.duration(to: now) >= self.maxWait
    }

    /// The group was written; the next starts empty.
    mutating func committed() {
        self.oldest = nil
    }
}

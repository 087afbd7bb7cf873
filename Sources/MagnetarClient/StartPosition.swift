/// Where a reader starts, and which of the first messages it must drop itself: the
/// broker positions a new cursor *at* the start entry, so the client skips what comes
/// before the start (and the start itself unless inclusive). A pure value.
public struct StartPosition: Sendable, Hashable {
    public var id: MessageID
    public var inclusive: Bool
    /// Skip messages published before this time (ms since the epoch), for a reader's
    /// seek by time.
    public var publishedAtOrAfter: UInt64?

    public init(id: MessageID, inclusive: Bool, publishedAtOrAfter: UInt64? = nil) {
        self.id = id
        self.inclusive = inclusive
        self.publishedAtOrAfter = publishedAtOrAfter
    }

    /// Whether a message with `messageID`, published at `publishTime`, comes before the start.
    public func skips(_ messageID: MessageID, publishTime: UInt64) -> Bool {
        if let time = self.publishedAtOrAfter, publishTime < time { return true }
        if self.id == .earliest || self.id == .latest { return false }
        let message = (messageID.ledgerID, messageID.entryID)
        let start = (self.id.ledgerID, self.id.entryID)
        if message < start { return true }
        if message > start { return false }
        // The start's own entry.
        guard self.id.batchIndex >= 0 else { return !self.inclusive }
        let index = messageID.batchIndex
        return self.inclusive ? index < self.id.batchIndex : index <= self.id.batchIndex
    }

    /// The start id to send in SUBSCRIBE.
    var subscribeID: MessageID { self.publishedAtOrAfter != nil ? .earliest : self.id }
}

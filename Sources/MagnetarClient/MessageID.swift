import PulsarProto

/// Where a message is stored: the ledger and entry of its batch, its index inside the
/// batch, and its partition.
///
/// Ids of one topic order by `(ledgerID, entryID, batchIndex)`; ``earliest`` and
/// ``latest`` stand for the start and the end of a topic. A message that is not part of
/// a batch has `batchIndex` -1; a topic that is not partitioned has `partition` -1.
public struct MessageID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var ledgerID: Int64
    public var entryID: Int64
    public var partition: Int32
    public var batchIndex: Int32
    /// How many messages the batch holds (0 when not a batch).
    public var batchSize: Int32

    public init(ledgerID: Int64, entryID: Int64, partition: Int32 = -1, batchIndex: Int32 = -1, batchSize: Int32 = 0) {
        self.ledgerID = ledgerID
        self.entryID = entryID
        self.partition = partition
        self.batchIndex = batchIndex
        self.batchSize = batchSize
    }

    /// Before the first message of any topic.
    public static let earliest = MessageID(ledgerID: -1, entryID: -1)
    /// After the last message of any topic.
    public static let latest = MessageID(ledgerID: .max, entryID: .max)

    /// The entry this message belongs to, without batch position.
    public var entry: MessageID { MessageID(ledgerID: self.ledgerID, entryID: self.entryID, partition: self.partition) }

    public static func < (lhs: MessageID, rhs: MessageID) -> Bool {
        (lhs.ledgerID, lhs.entryID, lhs.batchIndex) < (rhs.ledgerID, rhs.entryID, rhs.batchIndex)
    }

    public var description: String {
        var text = "\(self.ledgerID):\(self.entryID)"
        if self.partition >= 0 || self.batchIndex >= 0 { text += ":\(self.partition)" }
        if self.batchIndex >= 0 { text += ":\(self.batchIndex)" }
        return text
    }

    /// Parses `ledger:entry[:partition[:batchIndex]]`, or `earliest` / `latest`.
    public init?(parsing text: String) {
        switch text {
        case "earliest": self = .earliest
        case "latest": self = .latest
        default:
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { Int64($0) }
            guard (2...4).contains(parts.count), parts.allSatisfy({ $0 != nil }) else { return nil }
            self.init(ledgerID: parts[0]!, entryID: parts[1]!)
            if parts.count > 2 { self.partition = Int32(clamping: parts[2]!) }
            if parts.count > 3 { self.batchIndex = Int32(clamping: parts[3]!) }
        }
    }
}

extension MessageID {
    /// The id as the protocol carries it (-1 travels as 2^64 - 1).
    var wire: Pulsar_Proto_MessageIdData {
        var data = Pulsar_Proto_MessageIdData()
        data.ledgerID = UInt64(bitPattern: self.ledgerID)
        data.entryID = UInt64(bitPattern: self.entryID)
        data.partition = self.partition
        if self.batchIndex >= 0 {
            data.batchIndex = self.batchIndex
            if self.batchSize > 0 { data.batchSize = self.batchSize }
        }
        return data
    }

    /// The id of a wire `MessageIdData`; `partition` overrides the one it carries when given.
    init(_ data: Pulsar_Proto_MessageIdData, partition: Int32? = nil) {
        self.init(
            ledgerID: Int64(bitPattern: data.ledgerID),
            entryID: Int64(bitPattern: data.entryID),
            partition: partition ?? (data.hasPartition ? data.partition : -1),
            batchIndex: data.hasBatchIndex ? data.batchIndex : -1,
            batchSize: data.hasBatchSize ? data.batchSize : 0
        )
    }
}

public import BookieWire
import NIOCore

extension BookieRequest.Body {
    /// For an add, the ids of the entry it carries and whether it is a recovery add
    /// (for fault rules that pick adds by entry); nil for other requests.
    public var addedEntry: (ledgerID: UInt64, entryID: UInt64, recovery: Bool)? {
        guard case .add(let bytes, _, let recovery) = self,
            let (ledgerID, entryID) = bytes.getMultipleIntegers(at: bytes.readerIndex, as: (UInt64, UInt64).self)
        else { return nil }
        return (ledgerID, entryID, recovery)
    }

    /// Whether this is a fencing read.
    public var isFencingRead: Bool {
        if case .read(let read) = self { return read.fence }
        return false
    }
}

public import NIOCore

extension LedgerReader {
    /// Reads entry `entryID` from `bookie` alone (no failover), its digest and ids checked:
    /// how one replica's copy is compared with the others'.
    public func readCopy(_ entryID: Int64, from bookie: String) async throws -> ByteBuffer {
        try await self.fetch(entryID, from: bookie).get()
    }
}

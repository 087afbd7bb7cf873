extension ManagedLedger {
    /// Named values its owners keep with the log, stored in its ledger list (Pulsar's
    /// managed-ledger properties): the next owner finds them as they were last stored.
    public var properties: [String: String] { self.state.properties }

    /// Changes the properties with `update` and stores them before returning; nothing is
    /// written when `update` leaves them as they were. The change is made under the lock
    /// that orders writes of the ledger list, so concurrent updates apply one after the
    /// other, each to what the previous one stored.
    public func updateProperties(_ update: @Sendable (inout [String: String]) -> Void) async throws {
        try self.checkOpen()
        await self.listLock.lock()
        defer { self.listLock.unlock() }
        try self.checkOpen()
        var properties = self.state.properties
        update(&properties)
        guard properties != self.state.properties else { return }
        do {
            self.state.version = try await self.storeList(self.state.ledgers, properties: properties, expecting: self.state.version)
        } catch {
            let failure = ManagedLedgerError.from(error, "storing the properties of managed ledger \(self.name)")
            // Another owner changed the list: this one may write no more.
            if failure.code == .fenced { self.fence(failure) }
            throw failure
        }
        self.state.properties = properties
    }
}

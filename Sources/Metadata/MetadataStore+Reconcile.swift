extension MetadataStore {
    /// Writes `value` at `key` under `expecting` and returns the new version, like
    /// ``put(_:value:expecting:)``, but does not take a lost answer for a failure.
    ///
    /// An `unavailable` error says the write may or may not have been applied (an etcd
    /// deadline can pass after the commit). Then the key is read back: if it holds exactly
    /// `value`, the write applied and the version read is returned; otherwise (or when the
    /// read fails too) the original error is thrown. A caller that trusted the error would
    /// go on from a version that is no longer current, and every later compare-and-set of
    /// its own would fail.
    @discardableResult
    public func putReconciled(_ key: String, value: [UInt8], expecting: Expectation) async throws -> Int64 {
        do {
            return try await self.put(key, value: value, expecting: expecting)
        } catch let error as MetadataError where error.code == .unavailable {
            if let current = try? await self.get(key), current.value == value { return current.version }
            throw error
        }
    }
}

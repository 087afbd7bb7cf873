import Ledger
import Logging
import Metadata

/// Ledgers that tests write straight to a bookie: registered in its metadata store first,
/// with the key the tests' adds carry, since a bookie takes adds only for ledgers the
/// store has.
enum DirectLedgers {
    static func register(_ ids: some Sequence<UInt64>, key: [UInt8], metadataURL: String) async throws {
        var logger = Logger(label: "direct-ledgers")
        logger.logLevel = .error
        let metadata = try await MetadataStoreURL.open(metadataURL, logger: logger)
        do {
            try await Self.register(ids, key: key, in: metadata)
        } catch {
            await metadata.close()
            throw error
        }
        await metadata.close()
    }

    static func register(_ ids: some Sequence<UInt64>, key: [UInt8], in metadata: any MetadataStore) async throws {
        for id in ids {
            try await LedgerMetadata.register(id, password: String(decoding: key, as: UTF8.self), bookies: ["b"], in: metadata)
        }
    }
}

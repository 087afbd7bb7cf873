import Ledger
import Metadata
import ServiceLifecycle

/// The broker's connections to storage — the metadata store and one ledger client per
/// event loop — as a `Service` that closes them on graceful shutdown, after every other
/// part of the broker has stopped.
final class BrokerStorage: Service, Sendable {
    let metadata: any MetadataStore
    let clients: [LedgerClient]

    init(metadata: any MetadataStore, clients: [LedgerClient]) {
        self.metadata = metadata
        self.clients = clients
    }

    func run() async throws {
        try? await gracefulShutdown()
        await self.close()
    }

    func close() async {
        for client in self.clients { await client.close() }
        await self.metadata.close()
    }
}

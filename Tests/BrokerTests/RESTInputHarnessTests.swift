@testable import Broker
import HTTPTypes
import LedgerTesting
import NIOEmbedded
import Testing

/// The REST fuzz harness answers through the broker's real routes: its topic is live, and
/// bad requests get Pulsar's statuses.
@Suite("REST fuzz harness", .timeLimit(.minutes(1)))
struct RESTInputHarnessTests {
    @Test func requestsReachTheRoutesAndALiveTopic() async throws {
        let cluster = try await InProcessCluster.start(bookies: 1)
        let harness = try await RESTInputHarness(metadata: cluster.metadata, client: cluster.client(), channel: NIOAsyncTestingChannel())
        func status(_ request: String) async -> HTTPResponse.Status? { await harness.answer(Array(request.utf8)) }
        #expect(await status("GET /admin/v2/persistent/public/default/fuzz/stats") == .ok)
        #expect(await status("GET /admin/v2/persistent/public/default/fuzz/subscriptions") == .ok)
        #expect(await status("GET /admin/v2/tenants") == .ok)
        #expect(await status("PUT /admin/v2/persistent/public/default/many/partitions\n4294967296") == .preconditionFailed)
        #expect(await status("POST /admin/v2/namespaces/public/default/retention\n{\"retentionTimeInMinutes\":") == .badRequest)
        #expect(await status("GET /nowhere") == .notFound)
        #expect(await status("") == .notFound)
        // Every seed is answered.
        for seed in RESTInputHarness.seeds() { _ = await harness.answer(seed) }
        await harness.shutdown()
        await cluster.shutdown()
    }
}

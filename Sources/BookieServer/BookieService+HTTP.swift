import BookieStorage
import CoreMetrics
import HTTPTypes
import Hummingbird
import MagnetarHTTP
import NIOPosix
import Prometheus

extension BookieService {
    /// `/metrics` (Prometheus text of `registry`, absent without one) and `/health` (200
    /// while the journal works, else 503; 503 too while the store is still opening).
    static func router(
        store opened: StoreSlot,
        metrics: BookieMetrics,
        registry: PrometheusCollectorRegistry?,
        pool: NIOThreadPool
    ) -> Router<BasicRequestContext> {
        let router = Router.rest()
        if let registry {
            router.get("/metrics") { _, _ in
                guard let store = opened.store else { throw RESTError(.serviceUnavailable, reason: "the bookie is starting") }
                let ledgers = try await pool.runIfActive { try store.ledgerIDs().count }
                metrics.ledgerCount.record(Double(ledgers))
                metrics.journalQueueSize.record(Double(store.journalQueueDepth))
                metrics.serverStatus.record(store.isReadOnly ? 0.0 : 1.0)
                metrics.writeCacheSize.record(Double(store.cachedBytes))
                return Response.prometheus(registry)
            }
        }
        router.get("/health") { _, _ in
            guard let store = opened.store else { throw RESTError(.serviceUnavailable, reason: "the bookie is starting") }
            if let failure = store.journalFailure {
                throw RESTError(.serviceUnavailable, reason: "the journal failed: \(failure.message)")
            }
            return try Response.json(["status": "ok", "state": store.isReadOnly ? "read-only" : "writable"])
        }
        return router
    }
}

import BookieStorage
import HTTPServing
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

extension BookieService {
    /// `/metrics` (Prometheus text) and `/health` (200 while the journal works, else 503;
    /// 503 too while the store is still opening).
    static func router(store opened: StoreSlot, metrics: BookieMetrics, pool: NIOThreadPool) -> HTTPRouter {
        var router = HTTPRouter()
        router.get("/metrics") { _ in
            guard let store = opened.store else { return .error(.serviceUnavailable, reason: "the bookie is starting") }
            let ledgers = try await pool.runIfActive { try store.ledgerIDs().count }
            metrics.ledgerCount.set(Double(ledgers))
            metrics.journalQueueSize.set(Double(store.journalQueueDepth))
            metrics.serverStatus.set(Double(store.isReadOnly ? 0 : 1))
            metrics.writeCacheSize.set(Double(store.cachedBytes))
            return .prometheus(metrics.registry)
        }
        router.get("/health") { _ in
            guard let store = opened.store else { return .error(.serviceUnavailable, reason: "the bookie is starting") }
            if let failure = store.journalFailure {
                return .error(.serviceUnavailable, reason: "the journal failed: \(failure.message)")
            }
            return try .json(["status": "ok", "state": store.isReadOnly ? "read-only" : "writable"])
        }
        return router
    }
}

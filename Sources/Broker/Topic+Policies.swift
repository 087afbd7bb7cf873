import Foundation
import Logging
import ManagedLedger
import PulsarProto
import PulsarWire

extension Topic {
    /// Puts `policies` in force. Retention, TTL and quotas change in place; turning
    /// deduplication on or off on a loaded topic closes it, so that its clients reconnect
    /// to it loaded anew under the new setting (`loading`: the topic is being loaded, and
    /// deduplication is set up now).
    func apply(_ policies: TopicPolicies, loading: Bool = false) async throws {
        self.policies = policies
        await self.ledger.setRetention(policies.retention)
        if loading {
            if policies.deduplication {
                try await self.enableDeduplication()
            } else {
                try await self.dropDeduplicationSnapshot()
            }
        } else if policies.deduplication != (self.deduplication != nil) {
            self.logger.info("deduplication changed; reloading the topic", metadata: ["topic": "\(self.name)", "on": "\(policies.deduplication)"])
            self.close(.unloaded)
        }
    }

    /// The names of the durable subscriptions' cursors (not the deduplication snapshot's).
    func subscriptionCursors() async -> [ManagedCursor] {
        await self.ledger.cursors.filter { $0.name != Deduplication.cursorName }
    }

    /// Enforces message TTL and backlog quotas once (the broker's policy rounds call it).
    func enforcePolicies(now: Date = Date()) async {
        guard !self.isClosed else { return }
        let nowMilliseconds = UInt64(now.timeIntervalSince1970 * 1000)
        if let ttl = self.policies.messageTTL {
            let age = UInt64(clamping: Int64(ttl / .milliseconds(1)))
            let cutoff = nowMilliseconds > age ? nowMilliseconds - age : 0
            for cursor in await self.subscriptionCursors() {
                do {
                    try await self.expire(cursor.name, publishedBefore: cutoff)
                } catch {
                    self.logger.warning("message TTL failed", metadata: ["topic": "\(self.name)", "subscription": "\(cursor.name)", "error": "\(error)"])
                }
            }
        }
        await self.enforceQuotas(now: nowMilliseconds)
        self.forgetInactiveProducers(now: nowMilliseconds)
    }

    /// The size of the backlog of the slowest subscription, in bytes (estimated).
    func backlogSize() async -> Int64 {
        var largest: Int64 = 0
        for cursor in await self.subscriptionCursors() {
            let markDelete = await cursor.markDeletePosition
            largest = max(largest, await self.ledger.estimatedSize(after: markDelete))
        }
        return largest
    }

    /// The publish time of the oldest message some subscription has not acknowledged
    /// (milliseconds since 1970), with that subscription; nil when none has a backlog.
    func oldestBacklog() async -> (time: UInt64, subscription: String)? {
        var oldest: (time: UInt64, subscription: String)?
        let last = await self.ledger.lastConfirmed
        for cursor in await self.subscriptionCursors() {
            let next = await self.ledger.next(after: await cursor.markDeletePosition)
            guard next <= last, let message = try? await self.entry(at: next) else { continue }
            let time = message.metadata.publishTime
            if oldest.map({ time < $0.time }) ?? true { oldest = (time, cursor.name) }
        }
        return oldest
    }

    /// Whether a backlog quota that holds producers back is exceeded, and which: checked
    /// when a producer connects.
    func exceededProducerQuota() async -> TopicPolicies.Quota? {
        if let quota = self.policies.sizeQuota, quota.policy != .evict, await self.backlogSize() > quota.limit { return quota }
        if let quota = self.policies.ageQuota, quota.policy != .evict, self.ageQuotaExceeded { return quota }
        return nil
    }

    /// Checks the backlog quotas: past one that holds producers back, the producers are
    /// closed (they reconnect and are refused until the backlog is under the limit); past
    /// an eviction quota, the subscriptions skip their oldest messages until under it.
    private func enforceQuotas(now: UInt64) async {
        if let quota = self.policies.ageQuota {
            let oldest = await self.oldestBacklog()
            // Stored limits are trusted no more than requests: the arithmetic saturates.
            let limitMilliseconds = UInt64(clamping: quota.limit).multipliedReportingOverflow(by: 1000)
            let age = limitMilliseconds.overflow ? UInt64.max : limitMilliseconds.partialValue
            let exceeded = oldest.map { now > $0.time && now - $0.time > age } ?? false
            self.ageQuotaExceeded = exceeded && quota.policy != .evict
            if exceeded, quota.policy == .evict {
                let cutoff = now > age ? now - age : 0
                for cursor in await self.subscriptionCursors() { _ = try? await self.expire(cursor.name, publishedBefore: cutoff) }
            }
        } else {
            self.ageQuotaExceeded = false
        }
        if let quota = self.policies.sizeQuota, quota.policy == .evict {
            await self.evict(toSize: quota.limit)
        }
        if let quota = await self.exceededProducerQuota() {
            let producers = Array(self.producers.values)
            guard !producers.isEmpty else { return }
            self.logger.info(
                "backlog quota exceeded; disconnecting producers", metadata: ["topic": "\(self.name)", "policy": "\(quota.policy.rawValue)"]
            )
            for producer in producers {
                self.removeProducer(producer)
                producer.sink.producerClosed(producer)
            }
        }
    }

    /// Skips the oldest messages of every subscription whose backlog is over `limit` bytes
    /// until it is under it.
    private func evict(toSize limit: Int64) async {
        for cursor in await self.subscriptionCursors() {
            for _ in 0..<64 {
                let markDelete = await cursor.markDeletePosition
                let size = await self.ledger.estimatedSize(after: markDelete)
                guard size > limit else { break }
                let entries = max(1, await cursor.backlog)
                let perEntry = max(1, size / entries)
                let skipped = await cursor.skip((size - limit + perEntry - 1) / perEntry)
                guard skipped > 0 else { break }
                self.logger.info("backlog evicted", metadata: ["topic": "\(self.name)", "subscription": "\(cursor.name)", "entries": "\(skipped)"])
            }
            try? await cursor.persist()
        }
    }
}

extension Topic {
    /// Refuses a new producer while a backlog quota that holds producers back is exceeded:
    /// under `producer_request_hold` the client keeps retrying (its sends wait), under
    /// `producer_exception` its sends fail.
    func checkProducerQuota() async throws(BrokerError) {
        guard let quota = await self.exceededProducerQuota() else { return }
        let message = "cannot create a producer on \(self.name): its backlog quota is exceeded (\(quota.policy.rawValue))"
        throw BrokerError(quota.policy == .hold ? .backlogQuotaHold : .backlogQuotaExceeded, message)
    }
}

import ServiceLifecycle

/// Keeps every loaded topic under its policies, as a `Service`: every ``interval`` it
/// reads each loaded topic's policies (its own, its namespace's, the broker's defaults),
/// puts them in force, and enforces message TTL and backlog quotas. A policy changed
/// through the REST API reaches every broker's topics within one interval.
final class PolicyService: Service, Sendable {
    let context: BrokerContext
    let interval: Duration

    init(context: BrokerContext, interval: Duration) {
        self.context = context
        self.interval = interval
    }

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: self.interval)
                await self.round()
            }
        }
    }

    /// One pass over the loaded topics.
    func round() async {
        await self.context.reapplyPolicies { _ in true }
        for topic in await self.context.topics.loaded() { await topic.enforcePolicies() }
    }
}

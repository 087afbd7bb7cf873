import Logging
import ManagedLedger
import PulsarProto
import PulsarWire

/// What a subscriber asks for when it subscribes.
struct SubscribeRequest: Sendable {
    var subscription: String
    var type: Pulsar_Proto_CommandSubscribe.SubType
    var initialPosition: Pulsar_Proto_CommandSubscribe.InitialPosition
    /// Where a reader's subscription starts (its start message), instead of the initial
    /// position. A durable subscription has none: see ``init(_:)``.
    var start: Position?
    /// False for a reader's subscription, which goes with its last consumer.
    var durable: Bool
    var consumerID: UInt64
    var consumerName: String
    var priorityLevel: Int32

    /// The request of a SUBSCRIBE command.
    init(_ request: Pulsar_Proto_CommandSubscribe) {
        self.subscription = request.subscription
        self.type = request.subType
        self.initialPosition = request.initialPosition
        self.durable = !request.hasDurable || request.durable
        self.consumerID = request.consumerID
        self.consumerName = request.consumerName
        self.priorityLevel = request.priorityLevel
        // A start message id counts for readers only, as in Pulsar. Clients send one when
        // they resubscribe a durable subscription too (the C++ client: the last message it
        // took); applied, it acknowledged whatever the cursor held unacknowledged before it.
        if request.hasStartMessageID, !self.durable {
            switch request.startMessageID.seekTarget {
            case .earliest: self.initialPosition = .earliest
            case .latest: self.initialPosition = .latest
            case .position(let position): self.start = position
            case nil: break  // refused by the connection before it got here
            }
        }
    }
}

/// What GET_LAST_MESSAGE_ID answers.
struct LastMessage: Sendable, Equatable {
    var position: Position
    /// For a batch, the index of its last message.
    var batchIndex: Int32?
    var markDelete: Position
}

extension Topic {
    /// Adds a consumer to a subscription, creating the subscription (and its cursor) when
    /// new. A new subscription starts at the request's start position when given, else
    /// at its initial position. In a Failover subscription every consumer then hears
    /// which one is active.
    func subscribe(_ request: SubscribeRequest, sink: any ConsumerSink) async throws -> Consumer {
        try self.checkOpen()
        guard request.subscription != Deduplication.cursorName else {
            throw BrokerError(.notAllowed, "\(Deduplication.cursorName) is the broker's own cursor, not a subscription")
        }
        let limits = self.policies.limits
        let consumers = self.subscriptions.values.reduce(0) { $0 + $1.attached.count }
        if TopicPolicies.Limits.reached(consumers, limits.consumers) {
            throw BrokerError(.consumerBusy, "\(self.name) has reached its limit of \(limits.consumers) consumers")
        }
        let subscription: Subscription
        if let existing = self.subscriptions[request.subscription] {
            subscription = existing
        } else {
            if limits.subscriptions > 0, await self.cursor(named: request.subscription) == nil,
                TopicPolicies.Limits.reached(await self.subscriptionNames().count, limits.subscriptions)
            {
                throw BrokerError(.notAllowed, "\(self.name) has reached its limit of \(limits.subscriptions) subscriptions")
            }
            let initial: InitialPosition = request.initialPosition == .earliest ? .earliest : .latest
            let cursor = try await self.ledger.openCursor(request.subscription, initialPosition: initial)
            try self.checkOpen()
            if let start = request.start { await cursor.seek(to: start) }
            if let raced = self.subscriptions[request.subscription] {
                subscription = raced
            } else {
                subscription = Subscription(
                    name: request.subscription, type: request.type, partition: self.name.partitionIndex, durable: request.durable,
                    cursor: cursor, topic: self
                )
                self.subscriptions[request.subscription] = subscription
            }
        }
        if TopicPolicies.Limits.reached(subscription.attached.count, limits.consumersPerSubscription) {
            throw BrokerError(
                .consumerBusy, "subscription \(subscription.name) of \(self.name) has reached its limit of \(limits.consumersPerSubscription) consumers"
            )
        }
        let consumer = Consumer(
            consumerID: request.consumerID, name: request.consumerName, priorityLevel: request.priorityLevel, subscription: subscription,
            sink: sink
        )
        try subscription.add(consumer, type: request.type)
        return consumer
    }

    /// Removes a consumer that closed or whose connection went; a non-durable
    /// subscription left without consumers goes with it.
    func removeConsumer(_ consumer: Consumer) {
        let subscription = consumer.subscription
        subscription.remove(consumer)
        self.noteIfIdle()
        guard !subscription.durable, subscription.isEmpty, self.subscriptions[subscription.name] === subscription else { return }
        self.subscriptions[subscription.name] = nil
        let ledger = self.ledger
        let logger = self.logger
        Task {
            do {
                try await ledger.deleteCursor(subscription.name)
            } catch {
                logger.info("a reader's cursor was not deleted", metadata: ["subscription": "\(subscription.name)", "error": "\(error)"])
            }
        }
    }

    nonisolated func flow(_ consumer: Consumer, permits: Int) {
        self.onLoop { _ in consumer.subscription.flow(consumer, permits: permits) }
    }

    /// Applies an ACK (see ``Subscription/ack(_:cumulative:from:)``) and calls
    /// `completion` with the refusal, if any, once it is applied.
    nonisolated func ack(
        _ consumer: Consumer, _ messages: [AckedMessage], cumulative: Bool, completion: @escaping @Sendable (BrokerError?) -> Void
    ) {
        self.onLoop { _ in completion(consumer.subscription.ack(messages, cumulative: cumulative, from: consumer)) }
    }

    /// Sends again what `consumer` has not acked: all of it when `positions` is empty,
    /// else those of `positions` it holds.
    nonisolated func redeliver(_ consumer: Consumer, positions: [Position]) {
        self.onLoop { _ in consumer.subscription.redeliver(consumer, positions: positions) }
    }

    /// Deletes the consumer's subscription, which must have no other consumer.
    func unsubscribe(_ consumer: Consumer) async throws {
        let subscription = consumer.subscription
        guard self.subscriptions[subscription.name] === subscription else { return }
        guard subscription.onlyConsumer(is: consumer) else {
            throw BrokerError(.consumerBusy, "subscription \(subscription.name) has other consumers")
        }
        subscription.remove(consumer)
        self.subscriptions[subscription.name] = nil
        try await self.ledger.deleteCursor(subscription.name)
    }

    /// Moves a subscription to `target` as a seek does: its consumers are closed, each
    /// told so (CLOSE_CONSUMER) through its sink, so that its client subscribes again,
    /// and its cursor is reset there. The notices are queued before this returns, so a
    /// seek's SUCCESS queued after it reaches the seeking client behind its own notice:
    /// the client then completes the seek once it has subscribed again.
    func reset(_ subscription: Subscription, to target: Position) {
        for consumer in subscription.removeAll() { consumer.sink.consumerClosed(consumer) }
        subscription.cursor.assumeIsolated { $0.seek(to: target) }
        self.noteIfIdle()
    }

    /// The last entry's id with the consumer's mark-delete position. For a batch the id
    /// names its last message (batch_index n-1), so a reader positioned inside that batch
    /// still sees messages available.
    func lastMessage(for consumer: Consumer) async -> LastMessage {
        let last = await self.ledger.lastConfirmed
        let markDelete = await consumer.subscription.cursor.markDeletePosition
        var answer = LastMessage(position: last, markDelete: markDelete)
        if last.entryID >= 0, let (position, entry) = try? await self.ledger.read(from: last, count: 1).first, position == last,
            let payload = try? PulsarPayload(parsing: entry), payload.metadata.hasNumMessagesInBatch
        {
            answer.batchIndex = max(1, payload.metadata.numMessagesInBatch) - 1
        }
        return answer
    }

    /// What CONSUMER_STATS answers for a consumer.
    func stats(of consumer: Consumer) -> ConsumerStats {
        ConsumerStats(
            name: consumer.name, permits: max(0, consumer.availablePermits), unacked: consumer.unackedCount,
            backlog: max(0, Int(consumer.subscription.cursor.assumeIsolated { $0.backlog })),
            type: ConsumerSet<Consumer>.describe(consumer.subscription.type)
        )
    }
}

/// A consumer's figures, as CONSUMER_STATS reports them.
struct ConsumerStats: Sendable, Equatable {
    var name: String
    var permits: Int
    var unacked: Int
    var backlog: Int
    /// The subscription type's name.
    var type: String
}

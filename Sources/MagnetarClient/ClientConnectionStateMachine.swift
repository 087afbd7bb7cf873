import PulsarProto
import PulsarWire

/// One client connection to a broker as a value: its handshake state, the requests
/// waiting for answers, and which producers and consumers listen on it.
///
/// Each event returns an ``Action`` for the channel handler to run; the machine does no
/// I/O. It is generic over what a waiting request and a listener are, so tests use plain
/// values.
///
/// - Connecting: CONNECT was sent; only CONNECTED (or ERROR) is accepted.
/// - Active: answers go to their request by request id; receipts, messages and broker
///   closes go to the producer or consumer by id; PING is answered.
/// - Closed: the channel is gone; every request fails and every listener hears it once.
struct ClientConnectionStateMachine<Request, Listener> {
    enum State: Equatable {
        case connecting
        case active
        case closed
    }

    enum Action {
        case none
        /// Writes a command (a PONG) and flushes.
        case reply(Pulsar_Proto_BaseCommand)
        /// The handshake finished.
        case connected(maxMessageSize: Int?, protocolVersion: Int32)
        case succeed(Request, PulsarFrame)
        case fail(Request, PulsarClientError)
        /// Hands a frame to a producer or consumer.
        case deliver(Listener, PulsarFrame)
        /// The broker broke the protocol: close the channel with this error.
        case closeConnection(PulsarClientError)
        /// The channel is gone: fail these requests, tell these listeners.
        case closed(requests: [Request], listeners: [Listener], PulsarClientError)
    }

    private(set) var state: State = .connecting
    private var requests: [UInt64: Request] = [:]
    private var producers: [UInt64: Listener] = [:]
    private var consumers: [UInt64: Listener] = [:]
    /// PRODUCER requests not answered yet, by producer id: a WaitForExclusive producer
    /// that the broker closes while it waits to be let in has its request failed.
    private var producerRequests: [UInt64: UInt64] = [:]
    /// When the broker is PINGed or given up on.
    private var keepAlive = KeepAlive()

    var pendingRequests: Int { self.requests.count }

    /// A request is about to be written. False when the connection is closed: the caller
    /// fails it at once.
    mutating func sending(_ request: Request, id: UInt64, producer: UInt64? = nil) -> Bool {
        guard self.state != .closed else { return false }
        self.requests[id] = request
        if let producer { self.producerRequests[producer] = id }
        return true
    }

    /// A request's timeout fired: it is removed and returned, unless already answered.
    mutating func timedOut(_ id: UInt64) -> Request? {
        self.forgetProducerRequest(id)
        return self.requests.removeValue(forKey: id)
    }

    private mutating func forgetProducerRequest(_ requestID: UInt64) {
        if !self.producerRequests.isEmpty, let producer = self.producerRequests.first(where: { $0.value == requestID })?.key {
            self.producerRequests[producer] = nil
        }
    }

    mutating func register(producer id: UInt64, _ listener: Listener) -> Bool {
        guard self.state != .closed else { return false }
        self.producers[id] = listener
        return true
    }

    mutating func register(consumer id: UInt64, _ listener: Listener) -> Bool {
        guard self.state != .closed else { return false }
        self.consumers[id] = listener
        return true
    }

    mutating func unregister(producer id: UInt64) { self.producers[id] = nil }
    mutating func unregister(consumer id: UInt64) { self.consumers[id] = nil }

    /// A frame arrived.
    mutating func received(_ frame: PulsarFrame) -> Action {
        self.keepAlive.heard()
        let command = frame.command
        switch self.state {
        case .closed:
            return .none
        case .connecting:
            switch command.type {
            case .connected:
                self.state = .active
                let connected = command.connected
                return .connected(
                    maxMessageSize: connected.hasMaxMessageSize ? Int(connected.maxMessageSize) : nil,
                    protocolVersion: connected.protocolVersion
                )
            case .error:
                return .closeConnection(
                    PulsarClientError(.connectionFailed, "the broker refused CONNECT: \(command.error.message)", serverError: command.error.error)
                )
            default:
                return .closeConnection(PulsarClientError(.protocolError, "the broker sent \(command.typeDescription) before CONNECTED"))
            }
        case .active:
            return self.activeCommand(frame)
        }
    }

    /// The keep-alive interval passed: a connection silent for a whole interval is
    /// PINGed, and closed when the next interval passes with still nothing read (a broker
    /// paused or cut off), so that its producers and consumers reconnect elsewhere.
    mutating func keepAliveTick() -> Action {
        guard self.state == .active else { return .none }
        switch self.keepAlive.tick() {
        case .nothing: return .none
        case .ping: return .reply(KeepAlive.ping)
        case .giveUp: return .closeConnection(PulsarClientError(.connectionClosed, "the broker answered no PING for a keep-alive interval"))
        }
    }

    /// The channel closed (or failed with `error`).
    mutating func channelClosed(_ error: PulsarClientError) -> Action {
        guard self.state != .closed else { return .none }
        self.state = .closed
        let requests = Array(self.requests.values)
        let listeners = Array(self.producers.values) + Array(self.consumers.values)
        self.requests.removeAll()
        self.producers.removeAll()
        self.consumers.removeAll()
        return .closed(requests: requests, listeners: listeners, error)
    }

    private mutating func activeCommand(_ frame: PulsarFrame) -> Action {
        let command = frame.command
        switch command.type {
        case .ping:
            var pong = Pulsar_Proto_BaseCommand()
            pong.type = .pong
            pong.pong = Pulsar_Proto_CommandPong()
            return .reply(pong)
        case .pong:
            return .none
        case .success:
            return self.answer(command.success.requestID, frame)
        case .producerSuccess:
            // A WaitForExclusive producer hears "not ready" first; it waits for the second answer.
            if command.producerSuccess.hasProducerReady, !command.producerSuccess.producerReady { return .none }
            return self.answer(command.producerSuccess.requestID, frame)
        case .partitionedMetadataResponse:
            return self.answer(command.partitionMetadataResponse.requestID, frame)
        case .lookupResponse:
            return self.answer(command.lookupTopicResponse.requestID, frame)
        case .getLastMessageIDResponse:
            return self.answer(command.getLastMessageIDResponse.requestID, frame)
        case .getTopicsOfNamespaceResponse:
            return self.answer(command.getTopicsOfNamespaceResponse.requestID, frame)
        case .consumerStatsResponse:
            return self.answer(command.consumerStatsResponse.requestID, frame)
        case .getSchemaResponse:
            return self.answer(command.getSchemaResponse.requestID, frame)
        case .ackResponse:
            guard command.ackResponse.hasRequestID else { return .none }
            return self.answer(command.ackResponse.requestID, frame)
        case .error:
            let error = command.error
            guard let request = self.requests.removeValue(forKey: error.requestID) else { return .none }
            self.forgetProducerRequest(error.requestID)
            return .fail(request, PulsarClientError(.brokerError, error.message, serverError: error.error))
        case .sendReceipt:
            return self.producers[command.sendReceipt.producerID].map { .deliver($0, frame) } ?? .none
        case .sendError:
            return self.producers[command.sendError.producerID].map { .deliver($0, frame) } ?? .none
        case .closeProducer:
            let producerID = command.closeProducer.producerID
            // Closed while waiting to be let in (fenced): its PRODUCER request fails, and it
            // registers again, to be refused if it was fenced for good.
            if let requestID = self.producerRequests.removeValue(forKey: producerID), let request = self.requests.removeValue(forKey: requestID) {
                self.producers[producerID] = nil
                return .fail(request, PulsarClientError(.connectionClosed, "the broker closed producer \(producerID) before letting it in"))
            }
            return self.producers.removeValue(forKey: producerID).map { .deliver($0, frame) } ?? .none
        case .message:
            return self.consumers[command.message.consumerID].map { .deliver($0, frame) } ?? .none
        case .activeConsumerChange:
            return self.consumers[command.activeConsumerChange.consumerID].map { .deliver($0, frame) } ?? .none
        case .reachedEndOfTopic:
            return self.consumers[command.reachedEndOfTopic.consumerID].map { .deliver($0, frame) } ?? .none
        case .closeConsumer:
            return self.consumers.removeValue(forKey: command.closeConsumer.consumerID).map { .deliver($0, frame) } ?? .none
        case .authChallenge:
            return .closeConnection(PulsarClientError(.protocolError, "the broker asks for authentication, which this client does not do"))
        default:
            return .none
        }
    }

    private mutating func answer(_ requestID: UInt64, _ frame: PulsarFrame) -> Action {
        guard let request = self.requests.removeValue(forKey: requestID) else { return .none }
        self.forgetProducerRequest(requestID)
        return .succeed(request, frame)
    }
}

import PulsarProto

/// The answer a refused request gets, in the response type its client waits for: a
/// LOOKUP gets a failed LOOKUP_RESPONSE, a SEND a SEND_ERROR with its producer and
/// sequence ids, a schema request its schema response, a transaction request its
/// transaction response, an ACK with a request id an ACK_RESPONSE; any other request
/// with an id an ERROR carrying that id. Requests without an id (FLOW, an ACK without
/// one, PING) have no answer.
enum PulsarErrorAnswer {
    /// The answer to `request`, or nil when it has none.
    static func answer(_ request: Pulsar_Proto_BaseCommand, _ error: Pulsar_Proto_ServerError, _ message: String) -> Pulsar_Proto_BaseCommand? {
        var command = Pulsar_Proto_BaseCommand()
        switch request.type {
        case .lookup:
            command.type = .lookupResponse
            command.lookupTopicResponse.requestID = request.lookupTopic.requestID
            command.lookupTopicResponse.response = .failed
            command.lookupTopicResponse.error = error
            command.lookupTopicResponse.message = message
        case .partitionedMetadata:
            command.type = .partitionedMetadataResponse
            command.partitionMetadataResponse.requestID = request.partitionMetadata.requestID
            command.partitionMetadataResponse.response = .failed
            command.partitionMetadataResponse.error = error
            command.partitionMetadataResponse.message = message
        case .send:
            return self.sendError(request.send, error, message)
        case .ack:
            guard request.ack.hasRequestID else { return nil }
            command.type = .ackResponse
            command.ackResponse.consumerID = request.ack.consumerID
            command.ackResponse.requestID = request.ack.requestID
            command.ackResponse.error = error
            command.ackResponse.message = message
        case .getSchema:
            command.type = .getSchemaResponse
            command.getSchemaResponse.requestID = request.getSchema.requestID
            command.getSchemaResponse.errorCode = error
            command.getSchemaResponse.errorMessage = message
        case .getOrCreateSchema:
            command.type = .getOrCreateSchemaResponse
            command.getOrCreateSchemaResponse.requestID = request.getOrCreateSchema.requestID
            command.getOrCreateSchemaResponse.errorCode = error
            command.getOrCreateSchemaResponse.errorMessage = message
        case .consumerStats:
            command.type = .consumerStatsResponse
            command.consumerStatsResponse.requestID = request.consumerStats.requestID
            command.consumerStatsResponse.errorCode = error
            command.consumerStatsResponse.errorMessage = message
        case .newTxn, .addPartitionToTxn, .addSubscriptionToTxn, .endTxn, .endTxnOnPartition, .endTxnOnSubscription, .tcClientConnectRequest:
            return self.transactionAnswer(request, error, message)
        default:
            guard let requestID = self.requestID(of: request) else { return nil }
            return self.error(requestID: requestID, error, message)
        }
        return command
    }

    /// ERROR for a request id (0 when the request's id is not known).
    static func error(requestID: UInt64, _ error: Pulsar_Proto_ServerError, _ message: String) -> Pulsar_Proto_BaseCommand {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .error
        command.error.requestID = requestID
        command.error.error = error
        command.error.message = message
        return command
    }

    static func sendError(_ request: Pulsar_Proto_CommandSend, _ error: Pulsar_Proto_ServerError, _ message: String) -> Pulsar_Proto_BaseCommand {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .sendError
        command.sendError.producerID = request.producerID
        command.sendError.sequenceID = request.sequenceID
        command.sendError.error = error
        command.sendError.message = message
        return command
    }

    static func success(_ requestID: UInt64) -> Pulsar_Proto_BaseCommand {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .success
        command.success.requestID = requestID
        return command
    }

    /// The request id of the commands answered by SUCCESS, ERROR or a response of their own.
    static func requestID(of command: Pulsar_Proto_BaseCommand) -> UInt64? {
        switch command.type {
        case .subscribe: command.subscribe.requestID
        case .producer: command.producer.requestID
        case .unsubscribe: command.unsubscribe.requestID
        case .closeProducer: command.closeProducer.requestID
        case .closeConsumer: command.closeConsumer.requestID
        case .partitionedMetadata: command.partitionMetadata.requestID
        case .lookup: command.lookupTopic.requestID
        case .consumerStats: command.consumerStats.requestID
        case .seek: command.seek.requestID
        case .getLastMessageID: command.getLastMessageID.requestID
        case .getTopicsOfNamespace: command.getTopicsOfNamespace.requestID
        case .getSchema: command.getSchema.requestID
        case .getOrCreateSchema: command.getOrCreateSchema.requestID
        case .ack: command.ack.hasRequestID ? command.ack.requestID : nil
        case .newTxn: command.newTxn.requestID
        case .tcClientConnectRequest: command.tcClientConnectRequest.requestID
        case .addPartitionToTxn: command.addPartitionToTxn.requestID
        case .addSubscriptionToTxn: command.addSubscriptionToTxn.requestID
        case .endTxn: command.endTxn.requestID
        case .endTxnOnPartition: command.endTxnOnPartition.requestID
        case .endTxnOnSubscription: command.endTxnOnSubscription.requestID
        default: nil
        }
    }

    /// The transaction requests that share one body shape, with the response type and
    /// field each is answered in.
    private static let transactionAnswers: [Pulsar_Proto_BaseCommand.TypeEnum: (
        request: any KeyPath<Pulsar_Proto_BaseCommand, Pulsar_Proto_CommandTxnRequest> & Sendable,
        type: Pulsar_Proto_BaseCommand.TypeEnum,
        response: any WritableKeyPath<Pulsar_Proto_BaseCommand, Pulsar_Proto_CommandTxnResponse> & Sendable
    )] = [
        .addPartitionToTxn: (\.addPartitionToTxn, .addPartitionToTxnResponse, \.addPartitionToTxnResponse),
        .addSubscriptionToTxn: (\.addSubscriptionToTxn, .addSubscriptionToTxnResponse, \.addSubscriptionToTxnResponse),
        .endTxn: (\.endTxn, .endTxnResponse, \.endTxnResponse),
        .endTxnOnPartition: (\.endTxnOnPartition, .endTxnOnPartitionResponse, \.endTxnOnPartitionResponse),
        .endTxnOnSubscription: (\.endTxnOnSubscription, .endTxnOnSubscriptionResponse, \.endTxnOnSubscriptionResponse),
    ]

    /// A transaction request's own response type, carrying the error.
    private static func transactionAnswer(_ request: Pulsar_Proto_BaseCommand, _ error: Pulsar_Proto_ServerError, _ message: String) -> Pulsar_Proto_BaseCommand {
        var command = Pulsar_Proto_BaseCommand()
        var response = Pulsar_Proto_CommandTxnResponse()
        response.error = error
        response.message = message
        if let answer = Self.transactionAnswers[request.type] {
            let txn = request[keyPath: answer.request]
            response.requestID = txn.requestID
            response.txnidLeastBits = txn.txnidLeastBits
            response.txnidMostBits = txn.txnidMostBits
            command.type = answer.type
            command[keyPath: answer.response] = response
        } else if request.type == .newTxn {
            response.requestID = request.newTxn.requestID
            command.type = .newTxnResponse
            command.newTxnResponse = response
        } else {
            command.type = .tcClientConnectResponse
            command.tcClientConnectResponse.requestID = request.tcClientConnectRequest.requestID
            command.tcClientConnectResponse.error = error
            command.tcClientConnectResponse.message = message
        }
        return command
    }
}

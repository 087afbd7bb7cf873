import Logging
import PulsarProto

extension PulsarConnection {
    /// What an ACK gets back, once applied or refused: with a request id, ACK_RESPONSE,
    /// carrying the refusal's error when there is one; without, nothing (a refusal is
    /// logged, as Pulsar does, and the acknowledgement ignored).
    static func ackAnswer(_ request: Pulsar_Proto_CommandAck, _ refusal: BrokerError?, logger: Logger) -> Pulsar_Proto_BaseCommand? {
        guard request.hasRequestID else {
            if let refusal {
                logger.info("ignoring an acknowledgement", metadata: ["consumer": "\(request.consumerID)", "reason": "\(refusal)"])
            }
            return nil
        }
        var command = Pulsar_Proto_BaseCommand()
        command.type = .ackResponse
        command.ackResponse.consumerID = request.consumerID
        command.ackResponse.requestID = request.requestID
        if let refusal {
            command.ackResponse.error = refusal.code.serverError
            command.ackResponse.message = refusal.message
        }
        return command
    }
}

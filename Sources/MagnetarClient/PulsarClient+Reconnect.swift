import Logging
import PulsarWire

extension PulsarClient {
    /// Registers a producer or consumer of `topic` again after it lost its connection,
    /// in the background: looks the topic up and calls `register` with the connection,
    /// retrying retriable failures with the client's backoff until `isClosed` says its
    /// owner closed or the client closes. Any other failure is final: it goes to `failed`.
    func reconnect(
        _ topic: TopicName,
        what: String,
        isClosed: @escaping @Sendable () -> Bool,
        register: @escaping @Sendable (ClientConnection) async throws(PulsarClientError) -> Void,
        failed: @escaping @Sendable (PulsarClientError) async -> Void
    ) {
        // Nothing starts once the client is closing; it closes the owner itself.
        self.background.start {
            var backoff = self.configuration.backoff
            while !isClosed() && !Task.isCancelled {
                do throws(PulsarClientError) {
                    let connection = try await self.connection(serving: topic)
                    try await register(connection)
                    self.logger.debug("\(what) reconnected", metadata: ["topic": "\(topic)", "broker": "\(connection.address)"])
                    return
                } catch {
                    if isClosed() || Task.isCancelled { return }
                    guard error.isRetriable else {
                        self.logger.info("\(what) failed for good", metadata: ["topic": "\(topic)", "error": "\(error)"])
                        await failed(error)
                        return
                    }
                    self.logger.debug("\(what) reconnection failed", metadata: ["topic": "\(topic)", "error": "\(error)"])
                    try? await Task.sleep(for: backoff.next())
                }
            }
        }
    }
}

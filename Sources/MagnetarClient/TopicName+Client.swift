public import PulsarWire
// Applications name topics with it, without importing the wire module.
@_exported public import struct PulsarWire.TopicName

extension TopicName {
    /// Parses a topic name an application gave; a bad one is
    /// ``PulsarClientError/Code/invalidArgument``.
    public init(_ text: String) throws(PulsarClientError) {
        do {
            try self.init(parsing: text)
        } catch {
            throw PulsarClientError(.invalidArgument, error.message)
        }
    }
}

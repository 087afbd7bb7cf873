public import NIOHTTP1

/// Thrown by a handler to answer with `status` and a `{"reason": ...}` body; any other
/// error thrown by a handler becomes a 500 with the error's description as the reason.
public struct HTTPError: Error, Sendable {
    public var status: HTTPResponseStatus
    public var reason: String

    public init(_ status: HTTPResponseStatus, reason: String) {
        self.status = status
        self.reason = reason
    }
}

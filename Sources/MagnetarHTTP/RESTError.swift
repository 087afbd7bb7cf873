public import HTTPTypes
public import Hummingbird

/// Thrown by a route handler to answer with `status` and a Pulsar-style
/// `{"reason": "..."}` JSON body.
public struct RESTError: HTTPResponseError, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var reason: String

    public init(_ status: HTTPResponse.Status, reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "\(self.status.code) \(self.reason)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        .reason(self.reason, status: self.status)
    }
}

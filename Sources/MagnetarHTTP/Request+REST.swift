import Foundation
public import Hummingbird
public import NIOCore

extension Request {
    /// The whole body, refused with 413 (`{"reason": ...}`) past `limit` bytes.
    public func collectBody(limit: Int = HTTPServer.defaultMaxBodySize) async throws -> ByteBuffer {
        do {
            return try await self.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw RESTError(.contentTooLarge, reason: "Request body is larger than \(limit) bytes")
        }
    }
}

extension RequestContext {
    /// The percent-decoded value of the route's `{name}` segment ("" if the route has none).
    public func pathParameter(_ name: String) -> String {
        guard let raw = self.parameters.get(name) else { return "" }
        return raw.removingPercentEncoding ?? raw
    }
}

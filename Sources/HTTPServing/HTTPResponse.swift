#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import NIOCore
public import NIOHTTP1

/// A complete HTTP response. The server adds `content-length` (and `connection: close`
/// when it is going to close), so handlers set only status, content headers and body.
public struct HTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer

    public init(status: HTTPResponseStatus = .ok, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A UTF-8 `text/plain` response.
    public static func text(_ text: String, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        HTTPResponse(
            status: status,
            headers: ["content-type": "text/plain; charset=utf-8"],
            body: ByteBuffer(string: text)
        )
    }

    /// An `application/json` response; keys are sorted so output is stable.
    public static func json(_ value: some Encodable, status: HTTPResponseStatus = .ok) throws -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return HTTPResponse(
            status: status,
            headers: ["content-type": "application/json"],
            body: ByteBuffer(bytes: try encoder.encode(value))
        )
    }

    /// A JSON error body in the Pulsar admin shape: `{"reason":"..."}`.
    public static func error(_ status: HTTPResponseStatus, reason: String) -> HTTPResponse {
        // Encoding a struct of one string cannot fail.
        (try? .json(ErrorBody(reason: reason), status: status)) ?? HTTPResponse(status: status)
    }

    private struct ErrorBody: Encodable {
        var reason: String
    }
}

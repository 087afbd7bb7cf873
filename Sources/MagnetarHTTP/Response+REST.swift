#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import HTTPTypes
public import Hummingbird
public import Prometheus
import NIOCore

extension Response {
    /// The content type of Prometheus' text exposition format.
    public static let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// A UTF-8 `text/plain` response.
    public static func text(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/plain; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text))
        )
    }

    /// An `application/json` response; keys are sorted so output is stable.
    public static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encoder.encode(value)))
        )
    }

    /// An error in the Pulsar admin shape: `{"reason":"..."}`.
    public static func reason(_ reason: String, status: HTTPResponse.Status) -> Response {
        // Encoding a struct of one string cannot fail.
        (try? .json(ReasonBody(reason: reason), status: status)) ?? Response(status: status)
    }

    /// Everything in `registry`, in the text exposition format, for a `/metrics` route.
    public static func prometheus(_ registry: PrometheusCollectorRegistry) -> Response {
        var text: [UInt8] = []
        registry.emit(into: &text)
        return Response(
            status: .ok,
            headers: [.contentType: Self.prometheusContentType],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: text))
        )
    }

    private struct ReasonBody: Encodable {
        var reason: String
    }
}

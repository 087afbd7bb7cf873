public import Prometheus
import NIOCore
import NIOHTTP1

extension HTTPResponse {
    /// The content type of Prometheus' text exposition format.
    public static let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Everything in `registry`, in the text exposition format, for a `/metrics` route:
    /// `router.get("/metrics") { _ in .prometheus(registry) }`.
    public static func prometheus(_ registry: PrometheusCollectorRegistry) -> HTTPResponse {
        var text: [UInt8] = []
        registry.emit(into: &text)
        return HTTPResponse(headers: ["content-type": Self.prometheusContentType], body: ByteBuffer(bytes: text))
    }
}

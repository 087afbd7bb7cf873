import Hummingbird
import Logging
import MagnetarHTTP
import NIOCore
import NIOHTTP1
import Prometheus
import Testing

@Suite("HTTP server", .timeLimit(.minutes(1)))
struct HTTPServerTests {
    struct Failure: Error, CustomStringConvertible {
        var description: String { "disk on fire" }
    }

    static func router(maxBodySize: Int = HTTPServer.defaultMaxBodySize) -> Router<BasicRequestContext> {
        let router = Router.rest()
        router.get("/hello") { _, _ in Response.text("hello") }
        router.post("/echo") { request, _ in
            Response(status: .ok, body: ResponseBody(byteBuffer: try await request.collectBody(limit: maxBodySize)))
        }
        router.get("/admin/v2/persistent/{tenant}/{namespace}/{topic}/partitions") { _, context in
            try Response.json([
                "tenant": context.pathParameter("tenant"), "namespace": context.pathParameter("namespace"),
                "topic": context.pathParameter("topic"),
            ])
        }
        router.get("/missing") { _, _ -> Response in throw RESTError(.notFound, reason: "Topic not found") }
        router.get("/broken") { _, _ -> Response in throw Failure() }
        return router
    }

    @Test func getsARoute() async throws {
        try await withServer(Self.router()) { port in
            try await HTTPTestConnection.with(port: port) { connection in
                let response = try #require(try await connection.request(.GET, "/hello"))
                #expect(response.status == .ok)
                #expect(response.body == "hello")
                #expect(response.header("content-type") == "text/plain; charset=utf-8")
                #expect(response.header("content-length") == "5")
            }
        }
    }

    @Test func capturesDecodedPathParameters() async throws {
        try await withServer(Self.router()) { port in
            try await HTTPTestConnection.with(port: port) { connection in
                let uri = "/admin/v2/persistent/public/default/my%20topic/partitions?authoritative=true"
                let response = try #require(try await connection.request(.GET, uri))
                #expect(response.status == .ok)
                #expect(response.header("content-type") == "application/json")
                #expect(response.body == #"{"namespace":"default","tenant":"public","topic":"my topic"}"#)
            }
        }
    }

    @Test func unknownPathIs404WithReason() async throws {
        try await withServer(Self.router()) { port in
            try await HTTPTestConnection.with(port: port) { connection in
                let response = try #require(try await connection.request(.GET, "/nope"))
                #expect(response.status == .notFound)
                #expect(response.header("content-type") == "application/json")
                #expect(response.body == #"{"reason":"No route for /nope"}"#)
                // A parameter segment never matches a missing segment.
                let short = try #require(try await connection.request(.GET, "/admin/v2/persistent/public/default/partitions"))
                #expect(short.status == .notFound)
                // Nor does a route of another method.
                let other = try #require(try await connection.request(.POST, "/hello", body: "x"))
                #expect(other.status == .notFound)
                #expect(other.body == #"{"reason":"No route for /hello"}"#)
            }
        }
    }

    @Test func thrownErrorsBecomeResponses() async throws {
        try await withServer(Self.router()) { port in
            try await HTTPTestConnection.with(port: port) { connection in
                let missing = try #require(try await connection.request(.GET, "/missing"))
                #expect(missing.status == .notFound)
                #expect(missing.body == #"{"reason":"Topic not found"}"#)
                let broken = try #require(try await connection.request(.GET, "/broken"))
                #expect(broken.status == .internalServerError)
                #expect(broken.body == #"{"reason":"disk on fire"}"#)
            }
        }
    }

    @Test func oversizedBodyIs413() async throws {
        try await withServer(Self.router(maxBodySize: 1000)) { port in
            try await HTTPTestConnection.with(port: port) { connection in
                let response = try #require(try await connection.request(.POST, "/echo", body: String(repeating: "x", count: 1001)))
                #expect(response.status == .payloadTooLarge)
                #expect(response.body == #"{"reason":"Request body is larger than 1000 bytes"}"#)
            }
            try await HTTPTestConnection.with(port: port) { connection in
                let chunk = String(repeating: "z", count: 600)
                try await connection.send(.POST, "/echo", headers: ["transfer-encoding": "chunked"], chunks: [chunk, chunk])
                let response = try #require(try await connection.response())
                #expect(response.status == .payloadTooLarge)
            }
        }
    }

    @Test func bodyWithinLimitIsReceived() async throws {
        try await withServer(Self.router(maxBodySize: 1000)) { port in
            try await HTTPTestConnection.with(port: port) { connection in
                let chunk = String(repeating: "y", count: 500)
                try await connection.send(.POST, "/echo", headers: ["transfer-encoding": "chunked"], chunks: [chunk, chunk])
                let response = try #require(try await connection.response())
                #expect(response.status == .ok)
                #expect(response.body == chunk + chunk)
            }
        }
    }

    @Test func malformedRequestClosesOnlyItsConnection() async throws {
        try await withServer(Self.router()) { port in
            try await HTTPTestConnection.with(port: port) { good in
                #expect(try await good.request(.GET, "/hello")?.status == .ok)
                let answer = try await rawExchange(port: port, "NOT A REQUEST\r\n\r\n")
                #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
                #expect(try await good.request(.GET, "/hello")?.body == "hello")
            }
        }
    }

    @Test func keepAliveServesRequestsInOrder() async throws {
        try await withServer(Self.router()) { port in
            try await HTTPTestConnection.with(port: port) { connection in
                #expect(try await connection.request(.GET, "/hello")?.body == "hello")
                #expect(try await connection.request(.POST, "/echo", body: "second")?.body == "second")
                // Pipelined: both requests go out before either response is read.
                try await connection.send(.POST, "/echo", chunks: ["third"])
                try await connection.send(.GET, "/hello")
                #expect(try await connection.response()?.body == "third")
                #expect(try await connection.response()?.body == "hello")
                // `connection: close` is honoured: answered, then closed.
                let last = try await connection.request(.GET, "/hello", headers: ["connection": "close"])
                #expect(last?.body == "hello")
                #expect(try await connection.response() == nil)
            }
        }
    }

    @Test func servesPrometheusExposition() async throws {
        let registry = PrometheusCollectorRegistry()
        let counter = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "magnetar", subsystem: "test", metricName: "requests", unitName: "total",
                helpText: "Requests seen by the test."
            )
        )
        counter.increment(by: Int64(3))
        let router = Router.rest()
        router.get("/metrics") { _, _ in Response.prometheus(registry) }
        try await withServer(router) { port in
            try await HTTPTestConnection.with(port: port) { connection in
                let response = try #require(try await connection.request(.GET, "/metrics"))
                #expect(response.status == .ok)
                #expect(response.header("content-type") == "text/plain; version=0.0.4; charset=utf-8")
                #expect(response.body.contains("# TYPE magnetar_test_requests_total counter\n"))
                #expect(response.body.contains("\nmagnetar_test_requests_total 3\n"))
            }
        }
    }

    @Test func takenPortFailsTheBinding() async throws {
        try await withServer(Self.router()) { port in
            let second = HTTPServer(host: "127.0.0.1", port: port, router: Self.router(), logger: Logger(label: "test-http"))
            async let serving: Void = second.run()
            await #expect(throws: (any Error).self) { try await second.boundPort() }
            var failure: (any Error)?
            do {
                try await serving
            } catch {
                failure = error
            }
            #expect(failure != nil)
        }
    }

    @Test func stopEndsRunAndClosesThePort() async throws {
        let server = HTTPServer(host: "127.0.0.1", port: 0, router: Self.router(), logger: Logger(label: "test-http"))
        async let serving: Void = server.run()
        let port = try await server.boundPort()
        #expect(port > 0)
        let status = try await HTTPTestConnection.with(port: port) { connection in
            try await connection.request(.GET, "/hello")?.status
        }
        #expect(status == .ok)
        server.stop()
        try await serving
        // The port is known after the stop too, and nothing listens on it.
        #expect(try await server.boundPort() == port)
        await #expect(throws: (any Error).self) { try await rawExchange(port: port, "GET /hello HTTP/1.1\r\n\r\n") }
    }
}

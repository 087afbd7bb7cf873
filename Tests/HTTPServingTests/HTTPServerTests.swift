import HTTPServing
import NIOCore
import NIOHTTP1
import Prometheus
import Testing

@Suite("HTTP server", .timeLimit(.minutes(1)))
struct HTTPServerTests {
    struct Failure: Error, CustomStringConvertible {
        var description: String { "disk on fire" }
    }

    static var router: HTTPRouter {
        var router = HTTPRouter()
        router.get("/hello") { _ in .text("hello") }
        router.post("/echo") { request in HTTPResponse(body: request.body) }
        router.get("/admin/v2/persistent/{tenant}/{namespace}/{topic}/partitions") { request in
            try .json(request.parameters.merging(request.query) { parameter, _ in parameter })
        }
        router.get("/missing") { _ in throw HTTPError(.notFound, reason: "Topic not found") }
        router.get("/broken") { _ in throw Failure() }
        return router
    }

    @Test func getsARoute() async throws {
        try await withServer(Self.router) { port in
            try await HTTPTestConnection.with(port: port) { connection in
                let response = try #require(try await connection.request(.GET, "/hello"))
                #expect(response.status == .ok)
                #expect(response.body == "hello")
                #expect(response.header("content-type") == "text/plain; charset=utf-8")
                #expect(response.header("content-length") == "5")
            }
        }
    }

    @Test func capturesPathParametersAndQuery() async throws {
        try await withServer(Self.router) { port in
            try await HTTPTestConnection.with(port: port) { connection in
                let uri = "/admin/v2/persistent/public/default/my%20topic/partitions?authoritative=true&x=a+b%21"
                let response = try #require(try await connection.request(.GET, uri))
                #expect(response.status == .ok)
                #expect(response.header("content-type") == "application/json")
                #expect(
                    response.body
                        == #"{"authoritative":"true","namespace":"default","tenant":"public","topic":"my topic","x":"a b!"}"#
                )
            }
        }
    }

    @Test func unknownPathIs404WithReason() async throws {
        try await withServer(Self.router) { port in
            try await HTTPTestConnection.with(port: port) { connection in
                let response = try #require(try await connection.request(.GET, "/nope"))
                #expect(response.status == .notFound)
                #expect(response.body == #"{"reason":"No route for /nope"}"#)
                // A parameter segment never matches a missing segment.
                let short = try #require(try await connection.request(.GET, "/admin/v2/persistent/public/default/partitions"))
                #expect(short.status == .notFound)
            }
        }
    }

    @Test func wrongMethodIs405() async throws {
        try await withServer(Self.router) { port in
            try await HTTPTestConnection.with(port: port) { connection in
                let response = try #require(try await connection.request(.POST, "/hello", body: "x"))
                #expect(response.status == .methodNotAllowed)
                #expect(response.header("allow") == "GET")
                #expect(response.body == #"{"reason":"Method POST not allowed"}"#)
            }
        }
    }

    @Test func thrownErrorsBecomeResponses() async throws {
        try await withServer(Self.router) { port in
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

    @Test func declaredOversizedBodyIs413AndCloses() async throws {
        try await withServer(Self.router, maxBodySize: 1000) { port in
            try await HTTPTestConnection.with(port: port) { connection in
                // Only the head goes out: the server must answer without waiting for the body.
                try await connection.send(.POST, "/echo", headers: ["content-length": "1001"], end: false)
                let response = try #require(try await connection.response())
                #expect(response.status == .payloadTooLarge)
                #expect(response.header("connection") == "close")
                #expect(response.body == #"{"reason":"Request body is larger than 1000 bytes"}"#)
                #expect(try await connection.response() == nil)
            }
        }
    }

    @Test func chunkedOversizedBodyIs413AndCloses() async throws {
        try await withServer(Self.router, maxBodySize: 1000) { port in
            try await HTTPTestConnection.with(port: port) { connection in
                let chunk = String(repeating: "z", count: 600)
                try await connection.send(.POST, "/echo", headers: ["transfer-encoding": "chunked"], chunks: [chunk, chunk])
                let response = try #require(try await connection.response())
                #expect(response.status == .payloadTooLarge)
                #expect(try await connection.response() == nil)
            }
        }
    }

    @Test func bodyWithinLimitIsReceived() async throws {
        try await withServer(Self.router, maxBodySize: 1000) { port in
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
        try await withServer(Self.router) { port in
            try await HTTPTestConnection.with(port: port) { good in
                #expect(try await good.request(.GET, "/hello")?.status == .ok)
                let answer = try await rawExchange(port: port, "NOT A REQUEST\r\n\r\n")
                #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
                #expect(try await good.request(.GET, "/hello")?.body == "hello")
            }
        }
    }

    @Test func keepAliveServesRequestsInOrder() async throws {
        try await withServer(Self.router) { port in
            try await HTTPTestConnection.with(port: port) { connection in
                #expect(try await connection.request(.GET, "/hello")?.body == "hello")
                #expect(try await connection.request(.POST, "/echo", body: "second")?.body == "second")
                // Pipelined: both requests go out before either response is read.
                try await connection.send(.POST, "/echo", chunks: ["third"])
                try await connection.send(.GET, "/hello")
                #expect(try await connection.response()?.body == "third")
                #expect(try await connection.response()?.body == "hello")
                // `connection: close` is honoured.
                let last = try await connection.request(.GET, "/hello", headers: ["connection": "close"])
                #expect(last?.header("connection") == "close")
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
        var router = HTTPRouter()
        router.get("/metrics") { _ in .prometheus(registry) }
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
}

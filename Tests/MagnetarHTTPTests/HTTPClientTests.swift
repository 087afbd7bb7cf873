import HTTPTypes
import Hummingbird
import MagnetarHTTP
@testable import MagnetarHTTPClient
import NIOCore
import NIOPosix
import Testing

@Suite("HTTP client", .timeLimit(.minutes(1)))
struct HTTPClientTests {
    static func router() -> Router<BasicRequestContext> {
        let router = Router.rest()
        router.get("/hello") { request, _ in
            let query = request.uri.query.map { "?\($0)" } ?? ""
            let custom = request.headers[HTTPField.Name("X-Magnetar")!] ?? "-"
            return Response.text("hello \(request.head.authority ?? "-") \(query) \(custom)")
        }
        router.put("/echo") { request, _ in
            Response(status: .ok, body: ResponseBody(byteBuffer: try await request.collectBody(limit: 1 << 20)))
        }
        router.get("/moved") { _, _ in
            Response(status: .temporaryRedirect, headers: [.location: "http://elsewhere:8080/moved"])
        }
        router.get("/missing") { _, _ -> Response in throw RESTError(.notFound, reason: "Topic not found") }
        router.get("/huge") { _, _ in
            Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(repeating: 0x61, count: HTTPClient.maxResponseBodySize + 1)))
        }
        return router
    }

    @Test func getsAResponseWithABody() async throws {
        try await withServer(Self.router()) { port in
            let response = try await HTTPClient.request(
                "GET",
                "http://127.0.0.1:\(port)/hello?authoritative=true#ignored",
                headers: [("X-Magnetar", "yes")]
            )
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self) == "hello 127.0.0.1:\(port) ?authoritative=true yes")
            #expect(response.header("content-type") == "text/plain; charset=utf-8")
            #expect(response.header("CONTENT-LENGTH") == "\(response.body.count)")
            #expect(response.header("x-absent") == nil)
        }
    }

    @Test func putSendsItsBody() async throws {
        try await withServer(Self.router()) { port in
            let body = Array(#"{"numBundles":4}"#.utf8)
            let response = try await HTTPClient.request("PUT", "http://localhost:\(port)/echo", body: body)
            #expect(response.status == 200)
            #expect(response.body == body)
            let empty = try await HTTPClient.request("PUT", "http://localhost:\(port)/echo", body: [])
            #expect(empty.status == 200)
            #expect(empty.body.isEmpty)
        }
    }

    @Test func redirectsAreReturnedAsTheyAre() async throws {
        try await withServer(Self.router()) { port in
            let response = try await HTTPClient.request("GET", "http://127.0.0.1:\(port)/moved")
            #expect(response.status == 307)
            #expect(response.header("Location") == "http://elsewhere:8080/moved")
        }
    }

    @Test func errorStatusesAreResponses() async throws {
        try await withServer(Self.router()) { port in
            let missing = try await HTTPClient.request("GET", "http://127.0.0.1:\(port)/missing")
            #expect(missing.status == 404)
            #expect(String(decoding: missing.body, as: UTF8.self) == #"{"reason":"Topic not found"}"#)
            let unrouted = try await HTTPClient.request("DELETE", "http://127.0.0.1:\(port)/nowhere")
            #expect(unrouted.status == 404)
        }
    }

    @Test func oversizedResponsesAreRefused() async throws {
        try await withServer(Self.router()) { port in
            let error = await #expect(throws: HTTPClientError.self) {
                try await HTTPClient.request("GET", "http://127.0.0.1:\(port)/huge")
            }
            #expect(error?.code == .responseTooLarge)
        }
    }

    @Test func refusedConnectionFails() async throws {
        // A port that was just bound and released: nothing listens on it.
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(listener.localAddress?.port)
        try await listener.close()
        let error = await #expect(throws: HTTPClientError.self) {
            try await HTTPClient.request("GET", "http://127.0.0.1:\(port)/hello", timeout: .seconds(5))
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.cause != nil)
    }

    /// Starts a server that accepts connections and reads requests but never answers,
    /// runs `body` with its port and its accepted connections, and closes it.
    static func withSilentServer<Result>(_ body: (Int, AsyncStream<any Channel>) async throws -> Result) async throws -> Result {
        let (accepted, connections) = AsyncStream<any Channel>.makeStream()
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                connections.yield(channel)
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(listener.localAddress?.port)
        do {
            let result = try await body(port, accepted)
            try await listener.close()
            return result
        } catch {
            try? await listener.close()
            throw error
        }
    }

    @Test func silentServerTimesOutAndTheConnectionIsClosed() async throws {
        try await Self.withSilentServer { port, accepted in
            let start = ContinuousClock.now
            let error = await #expect(throws: HTTPClientError.self) {
                try await HTTPClient.request("GET", "http://127.0.0.1:\(port)/hello", timeout: .milliseconds(300))
            }
            let elapsed = ContinuousClock.now - start
            #expect(error?.code == .timedOut)
            #expect(elapsed >= .milliseconds(300))
            #expect(elapsed < .seconds(3))
            // The server's side of the connection sees it closed.
            var connections = accepted.makeAsyncIterator()
            let connection = try #require(await connections.next())
            try await connection.closeFuture.get()
        }
    }

    @Test func cancellationEndsARequest() async throws {
        try await Self.withSilentServer { port, _ in
            let request = Task { try await HTTPClient.request("GET", "http://127.0.0.1:\(port)/hello", timeout: .seconds(30)) }
            try await Task.sleep(for: .milliseconds(200))
            let start = ContinuousClock.now
            request.cancel()
            await #expect(throws: CancellationError.self) { try await request.value }
            #expect(ContinuousClock.now - start < .seconds(3))
        }
    }

    @Test(arguments: [
        "https://127.0.0.1:8443/admin", "ftp://127.0.0.1/", "127.0.0.1:8080/admin", "http://", "http:///path",
        "http://user@host/", "http://host:0/", "http://host:65536/", "http://host:8o/", "http://host:+80/",
        "http://a b/", "http://host/a b", "http://[::1/", "http://[::1]x/", "http://::1/",
    ])
    func badURLsAreRefused(url: String) async {
        let error = await #expect(throws: HTTPClientError.self) { try await HTTPClient.request("GET", url) }
        #expect(error?.code == .invalidURL)
    }

    @Test func badMethodsAndHeadersAreRefused() async {
        let requests: [(method: String, headers: [(String, String)])] = [
            ("GE T", []), ("", []), ("GET", [("Bad Name", "x")]), ("GET", [("X-Split", "a\r\nInjected: 1")]),
        ]
        for (method, headers) in requests {
            let error = await #expect(throws: HTTPClientError.self) {
                try await HTTPClient.request(method, "http://127.0.0.1:1/", headers: headers)
            }
            #expect(error?.code == .invalidRequest)
        }
    }

    @Test func parsesTargets() throws {
        let plain = try HTTPClientTarget(url: "http://broker-1.example:8080/admin/v2/namespaces/public/default/bundles?x=1")
        #expect(plain.host == "broker-1.example")
        #expect(plain.port == 8080)
        #expect(plain.authority == "broker-1.example:8080")
        #expect(plain.pathAndQuery == "/admin/v2/namespaces/public/default/bundles?x=1")
        let bare = try HTTPClientTarget(url: "HTTP://localhost")
        #expect(bare.port == 80)
        #expect(bare.pathAndQuery == "/")
        #expect(try HTTPClientTarget(url: "http://localhost?a=b").pathAndQuery == "/?a=b")
        #expect(try HTTPClientTarget(url: "http://localhost:/x").port == 80)
        let six = try HTTPClientTarget(url: "http://[::1]:6650/x#frag")
        #expect(six.host == "::1")
        #expect(six.port == 6650)
        #expect(six.authority == "[::1]:6650")
        #expect(six.pathAndQuery == "/x")
    }
}

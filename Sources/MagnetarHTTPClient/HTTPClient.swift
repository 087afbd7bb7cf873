import NIOCore
import NIOHTTP1
import NIOPosix

/// A minimal HTTP/1.1 client for admin calls and HTTP lookups: one request per
/// connection, on SwiftNIO's shared event loops.
///
/// Each request opens a connection, sends `Connection: close`, reads one complete
/// response and closes the connection, whatever happens. Redirects are returned as they
/// are, not followed. Every failure to get a response is an ``HTTPClientError``; a
/// response of any status is returned. The whole exchange, connecting included, ends by
/// its timeout: then the connection is closed and ``HTTPClientError/Code/timedOut`` thrown.
public enum HTTPClient {
    /// The largest response body accepted: 16 MiB.
    public static let maxResponseBodySize = 16 << 20

    private typealias Connection = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    /// Sends one `method` request to `url` (`http://host[:port]/path?query`; https is
    /// refused) with `headers`, `Host` (unless given), `Connection: close` and, when
    /// `body` is given, `Content-Length`, and returns the response.
    ///
    /// Throws ``HTTPClientError`` for a bad URL, method or header, a connection that
    /// cannot be made or fails, a malformed or oversized response, or when `timeout`
    /// passes first; `CancellationError` when the calling task is cancelled.
    public static func request(
        _ method: String,
        _ url: String,
        body: [UInt8]? = nil,
        headers: [(String, String)] = [],
        timeout: Duration = .seconds(10)
    ) async throws -> HTTPClientResponse {
        let target = try HTTPClientTarget(url: url)
        let head = try Self.head(method: method, target: target, headers: headers, bodySize: body?.count)
        let deadline = ContinuousClock.now + timeout
        let connection = try await Self.connect(to: target, timeout: timeout)
        return try await withThrowingTaskGroup(of: HTTPClientResponse?.self) { group in
            group.addTask { try await Self.exchange(on: connection, head: head, body: body) }
            group.addTask {
                try await Task.sleep(until: deadline, clock: .continuous)
                return nil
            }
            defer { group.cancelAll() }
            do {
                if let response = try await group.next() ?? nil { return response }
                throw HTTPClientError(.timedOut, "\(method) \(url) got no response within \(timeout)")
            } catch {
                // The exchange ends once its connection is closed, so the group can finish.
                connection.channel.close(promise: nil)
                throw error
            }
        }
    }

    /// Opens a connection to `target` with NIO's HTTP/1.1 client handlers.
    private static func connect(to target: HTTPClientTarget, timeout: Duration) async throws -> Connection {
        do {
            return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(TimeAmount(timeout))
                .connect(host: target.host, port: target.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch ChannelError.connectTimeout {
            throw HTTPClientError(.timedOut, "connecting to \(target.authority) took longer than \(timeout)")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw HTTPClientError(.connectionFailed, "cannot connect to \(target.authority)", cause: error)
        }
    }

    /// Writes the request on `connection`, reads the response and closes the connection.
    private static func exchange(on connection: Connection, head: HTTPRequestHead, body: [UInt8]?) async throws
        -> HTTPClientResponse
    {
        do {
            return try await connection.executeThenClose { inbound, outbound in
                var parts: [HTTPClientRequestPart] = [.head(head)]
                if let body, !body.isEmpty { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
                parts.append(.end(nil))
                try await outbound.write(contentsOf: parts)
                return try await Self.response(from: inbound)
            }
        } catch let error as HTTPClientError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as HTTPParserError {
            throw HTTPClientError(.malformedResponse, "the response is not valid HTTP/1.1", cause: error)
        } catch {
            throw HTTPClientError(.connectionFailed, "the connection failed during the request", cause: error)
        }
    }

    /// Reads one complete response, its body no larger than ``maxResponseBodySize``.
    private static func response(from inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>) async throws
        -> HTTPClientResponse
    {
        var head: HTTPResponseHead?
        var body: [UInt8] = []
        for try await part in inbound {
            switch part {
            case .head(let received):
                head = received
            case .body(let chunk):
                guard body.count + chunk.readableBytes <= Self.maxResponseBodySize else {
                    throw HTTPClientError(.responseTooLarge, "the response body is larger than \(Self.maxResponseBodySize) bytes")
                }
                body.append(contentsOf: chunk.readableBytesView)
            case .end:
                guard let head else { throw HTTPClientError(.malformedResponse, "the response ended before its head") }
                let headers = head.headers.map { (name: $0.name, value: $0.value) }
                return HTTPClientResponse(status: Int(head.status.code), headers: headers, body: body)
            }
        }
        throw HTTPClientError(.malformedResponse, "the connection closed before the response was complete")
    }

    /// The request head, its method and headers checked so that they can be sent.
    private static func head(method: String, target: HTTPClientTarget, headers: [(String, String)], bodySize: Int?)
        throws(HTTPClientError) -> HTTPRequestHead
    {
        guard Self.isToken(method) else { throw HTTPClientError(.invalidRequest, "'\(method)' is not an HTTP method") }
        for (name, value) in headers {
            guard Self.isToken(name), !value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) else {
                throw HTTPClientError(.invalidRequest, "header '\(name)' cannot be sent")
            }
        }
        var fields = HTTPHeaders(headers)
        if !fields.contains(name: "host") { fields.add(name: "Host", value: target.authority) }
        fields.replaceOrAdd(name: "Connection", value: "close")
        if let bodySize {
            fields.remove(name: "Transfer-Encoding")
            fields.replaceOrAdd(name: "Content-Length", value: String(bodySize))
        }
        return HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: target.pathAndQuery, headers: fields)
    }

    /// Whether `text` is an HTTP token (RFC 9110 §5.6.2), as methods and header names are.
    private static func isToken(_ text: String) -> Bool {
        !text.isEmpty
            && text.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
                    true
                default:
                    "!#$%&'*+-.^_`|~".utf8.contains(byte)
                }
            }
    }
}

import Foundation
import Glibc
import MagnetarHTTP
import Testing

/// A client that opens a connection and never finishes a request's head (slowloris), or
/// sends nothing, is closed after the idle timeout; one that asks in time is answered.
@Suite("HTTP timeouts", .timeLimit(.minutes(1)))
struct HTTPTimeoutTests {
    /// Connects to `port`, sends `bytes`, and returns how long until the server closed
    /// the connection (nil when it had not within `within`).
    static func closedAfter(port: Int, sending bytes: String, within: TimeInterval) throws -> TimeInterval? {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TimeoutTestError("connect failed: \(errno)") }
        var timeout = timeval(tv_sec: Int(within), tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let start = Date()
        if !bytes.isEmpty { _ = Array(bytes.utf8).withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) } }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count == 0 { return Date().timeIntervalSince(start) }
            if count < 0 { return nil }  // timed out (or failed) with the connection open
        }
    }

    struct TimeoutTestError: Error { var message: String; init(_ message: String) { self.message = message } }

    @Test func aHeadThatNeverEndsAndASilentClientAreClosed() async throws {
        try await withServer(HTTPServerTests.router(), idleTimeout: .milliseconds(500)) { port in
            let partial = try Self.closedAfter(port: port, sending: "GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ", within: 10)
            #expect(partial != nil && partial! < 5, "an unfinished head was closed after \(String(describing: partial)) s")
            let silent = try Self.closedAfter(port: port, sending: "", within: 10)
            #expect(silent != nil && silent! < 5, "a silent connection was closed after \(String(describing: silent)) s")
        }
    }
}

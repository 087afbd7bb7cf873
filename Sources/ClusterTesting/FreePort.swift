#if canImport(Glibc)
import Glibc
#endif

/// Free TCP ports on the loopback interface, for servers that tests start.
public enum FreePort {
    /// A port on 127.0.0.1 that the kernel just reported free. Another process could take
    /// it before the caller binds it; callers that start servers retry on a bind failure.
    public static func allocate() throws -> Int {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { throw TestHarnessError("socket() failed: errno \(errno)") }
        defer { close(socketFD) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw TestHarnessError("bind() failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &length) }
        }
        guard named == 0 else { throw TestHarnessError("getsockname() failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether a server could bind 127.0.0.1:`port` now (with `SO_REUSEADDR`, as the
    /// project's servers do): false while any socket holds it, a client's local end included,
    /// which a connect probe does not see.
    public static func isBindable(_ port: Int) -> Bool {
        guard (1...65_535).contains(port) else { return false }
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { return false }
        defer { close(socketFD) }
        var one: Int32 = 1
        _ = setsockopt(socketFD, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        return Self.withLoopback(port) { bind(socketFD, $0, $1) } == 0
    }

    /// `count` runs of `length` consecutive ports, every port free to bind and none shared
    /// between runs, for a command that numbers its servers from a first port.
    public static func allocateRuns(_ count: Int, length: Int) throws -> [Int] {
        for _ in 0..<100 {
            var firsts: [Int] = []
            var taken = Set<Int>()
            for _ in 0..<count {
                let first = try allocate()
                let run = first..<(first + length)
                guard run.allSatisfy({ !taken.contains($0) && isBindable($0) }) else { break }
                taken.formUnion(run)
                firsts.append(first)
            }
            if firsts.count == count { return firsts }
        }
        throw TestHarnessError("no \(count) runs of \(length) free ports")
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    public static func isAccepting(_ port: Int) -> Bool {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { return false }
        defer { close(socketFD) }
        return Self.withLoopback(port) { connect(socketFD, $0, $1) } == 0
    }

    /// Calls `body` with the address 127.0.0.1:`port` and its length.
    private static func withLoopback(_ port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}

/// A failure of the test harness itself (a process that would not start, a port that
/// never opened), as opposed to a failure of the code under test.
public struct TestHarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

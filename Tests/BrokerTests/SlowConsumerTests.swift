import ClusterTesting
import Foundation
import CNIOLinux
import Glibc
import NIOCore
import PulsarProto
import PulsarWire
import Testing

/// A consumer that grants every permit there is (FLOW 0xFFFFFFFF) and then never reads
/// its socket, beside a producer publishing as fast as the broker takes it: the broker
/// sends it only what its socket takes, and its memory stays bounded.
@Suite(.timeLimit(.minutes(4)))
struct SlowConsumerTests {
    /// A TCP connection that writes what it is given and never reads.
    final class SilentSocket {
        let descriptor: Int32

        init(port: Int) throws {
            self.descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard self.descriptor >= 0 else { throw TestHarnessError("socket() failed") }
            var small: Int32 = 4096
            setsockopt(self.descriptor, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(self.descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { throw TestHarnessError("connect() failed: \(errno)") }
        }

        func send(_ command: Pulsar_Proto_BaseCommand) throws {
            var buffer = ByteBuffer()
            try PulsarFrame.write(command: command, into: &buffer)
            let bytes = Array(buffer.readableBytesView)
            let sent = bytes.withUnsafeBytes { Glibc.send(self.descriptor, $0.baseAddress, $0.count, 0) }
            guard sent == bytes.count else { throw TestHarnessError("send() wrote \(sent) of \(bytes.count)") }
        }

        deinit { close(self.descriptor) }
    }

    /// The resident memory of process `pid`, in bytes (its VmRSS).
    static func residentBytes(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        return kilobytes * 1024
    }

    @Test func aConsumerThatNeverReadsKeepsTheBrokerBounded() async throws {
        let seconds = Int(ProcessInfo.processInfo.environment["SLOW_CONSUMER_SECONDS"] ?? "") ?? 60
        let cluster = try await BrokerCluster.start(label: "slow-consumer")
        defer { cluster.stop() }
        let topic = "persistent://public/default/flooded"

        let consumer = try SilentSocket(port: cluster.port)
        var command = Pulsar_Proto_BaseCommand()
        command.type = .connect
        command.connect.clientVersion = "silent"
        command.connect.protocolVersion = 20
        try consumer.send(command)
        command = Pulsar_Proto_BaseCommand()
        command.type = .subscribe
        command.subscribe.topic = topic
        command.subscribe.subscription = "never-reads"
        command.subscribe.subType = .exclusive
        command.subscribe.consumerID = 1
        command.subscribe.requestID = 1
        command.subscribe.initialPosition = .earliest
        try consumer.send(command)
        // A FLOW for a consumer not registered yet is dropped: wait until the SUBSCRIBE is
        // done (its answer is never read), as a client would for its SUCCESS.
        try await Task.sleep(for: .seconds(2))
        command = Pulsar_Proto_BaseCommand()
        command.type = .flow
        command.flow.consumerID = 1
        command.flow.messagePermits = .max
        try consumer.send(command)

        let producer = try ChildProcess(
            try BuiltProducts.path(of: "magnetar"),
            ["perf", "produce", "--service-url", cluster.serviceURL, topic, "-r", "0", "-s", "4096", "--duration", "\(seconds)"],
            logPath: cluster.directory.file("perf.log")
        )
        defer { producer.stop() }
        var peak = 0
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .seconds(2))
            if let resident = Self.residentBytes(cluster.broker.pid) { peak = max(peak, resident) }
        }
        let published = try await cluster.bookieBytesWritten()
        print("slow consumer: broker peak RSS \(peak >> 20) MB over \(seconds) s, bookies stored \(published >> 20) MB")
        #expect(published > 400 << 20, "the producer published more than the bound (\(published >> 20) MB), so the bound is tested")
        #expect(peak > 0 && peak < 400 << 20, "broker peak RSS \(peak >> 20) MB")
        // The broker still serves: its REST API answers.
        let health = try await cluster.http("GET", "/admin/v2/brokers/health")
        #expect(health.status == 200)
    }
}

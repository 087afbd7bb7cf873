import Broker
import Dispatch
import FuzzDriver
import LedgerTesting
import NIOEmbedded

/// The broker the inputs go to, started before the first input and started afresh every
/// `inputsPerBroker` inputs (what inputs create, tenants, namespaces and topics, then goes
/// with it): one in-process bookie, an in-memory metadata store.
private final class Rig: @unchecked Sendable {
    static let inputsPerBroker = 20_000
    static let shared = Rig()

    private var cluster: InProcessCluster?
    private var harness: RESTInputHarness?
    private var inputs = 0

    func run(_ bytes: UnsafeRawBufferPointer) {
        if self.harness == nil || self.inputs == Self.inputsPerBroker { self.restart() }
        self.inputs += 1
        self.harness!.run(bytes)
    }

    func restart() {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) let rig = self
        Task {
            if let harness = rig.harness { await harness.shutdown() }
            if let cluster = rig.cluster { await cluster.shutdown() }
            do {
                let cluster = try await InProcessCluster.start(bookies: 1)
                rig.cluster = cluster
                rig.harness = try await RESTInputHarness(metadata: cluster.metadata, client: cluster.client(), channel: NIOAsyncTestingChannel())
            } catch {
                fatalError("the REST fuzz harness did not start: \(error)")
            }
            done.signal()
        }
        done.wait()
        self.inputs = 0
    }
}

private func runOne(_ bytes: UnsafeRawBufferPointer) {
    Rig.shared.run(bytes)
}

#if FUZZING
    @_cdecl("LLVMFuzzerTestOneInput")
    func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        runOne(FuzzDriver.bytes(data, size))
        return 0
    }

    @_cdecl("FuzzRESTBodies_main")
    func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        Rig.shared.restart()  // before the first input, so it is not taken for that input's leak
        return FuzzDriver.main(argc, argv) { data, size in fuzzOneInput(data, size) }
    }
#else
    @main struct RESTBodiesReplay {
        static func main() throws {
            try FuzzDriver.replay(Array(CommandLine.arguments.dropFirst()), harness: runOne, seeds: RESTInputHarness.seeds)
        }
    }
#endif

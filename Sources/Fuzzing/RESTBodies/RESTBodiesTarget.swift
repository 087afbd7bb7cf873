import Broker
import Dispatch
import FuzzDriver
import LedgerTesting
import NIOEmbedded

/// The broker the inputs go to, started on first use: one in-process bookie, an
/// in-memory metadata store.
nonisolated(unsafe) private var harness: RESTInputHarness?

private func sharedHarness() -> RESTInputHarness {
    if let harness { return harness }
    let started = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var made: RESTInputHarness?
    Task {
        do {
            let cluster = try await InProcessCluster.start(bookies: 1)
            made = try await RESTInputHarness(metadata: cluster.metadata, client: cluster.client(), channel: NIOAsyncTestingChannel())
        } catch {
            fatalError("the REST fuzz harness did not start: \(error)")
        }
        started.signal()
    }
    started.wait()
    harness = made
    return made!
}

private func runOne(_ bytes: UnsafeRawBufferPointer) {
    sharedHarness().run(bytes)
}

#if FUZZING
    @_cdecl("LLVMFuzzerTestOneInput")
    func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        runOne(FuzzDriver.bytes(data, size))
        return 0
    }

    @_cdecl("FuzzRESTBodies_main")
    func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        _ = sharedHarness()  // started before the first input, so it is not taken for its leak
        return FuzzDriver.main(argc, argv) { data, size in fuzzOneInput(data, size) }
    }
#else
    @main struct RESTBodiesReplay {
        static func main() throws {
            try FuzzDriver.replay(Array(CommandLine.arguments.dropFirst()), harness: runOne, seeds: RESTInputHarness.seeds)
        }
    }
#endif

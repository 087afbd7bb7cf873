import BookieServer
import FuzzDriver

#if FUZZING
    @_cdecl("LLVMFuzzerTestOneInput")
    func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        BookieInputHarness.run(FuzzDriver.bytes(data, size))
        return 0
    }

    @_cdecl("FuzzBookieFrames_main")
    func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        BookieInputHarness.prepare()
        return FuzzDriver.main(argc, argv) { data, size in fuzzOneInput(data, size) }
    }
#else
    @main struct BookieFramesReplay {
        static func main() throws {
            try FuzzDriver.replay(Array(CommandLine.arguments.dropFirst()), harness: BookieInputHarness.run, seeds: BookieInputHarness.seeds)
        }
    }
#endif

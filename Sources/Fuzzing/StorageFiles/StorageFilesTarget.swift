import BookieStorage
import FuzzDriver

#if FUZZING
    @_cdecl("LLVMFuzzerTestOneInput")
    func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        StorageFileHarness.run(FuzzDriver.bytes(data, size))
        return 0
    }

    @_cdecl("FuzzStorageFiles_main")
    func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        FuzzDriver.main(argc, argv) { data, size in fuzzOneInput(data, size) }
    }
#else
    @main struct StorageFilesReplay {
        static func main() throws {
            try FuzzDriver.replay(Array(CommandLine.arguments.dropFirst()), harness: StorageFileHarness.run, seeds: StorageFileHarness.seeds)
        }
    }
#endif

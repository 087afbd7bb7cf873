import Broker
import Foundation

#if FUZZING
    /// libFuzzer's driver, which the `-sanitize=fuzzer` build links in.
    @_silgen_name("LLVMFuzzerRunDriver")
    func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    /// One input, as libFuzzer calls it.
    @_cdecl("LLVMFuzzerTestOneInput")
    func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        PulsarInputHarness.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
        return 0
    }

    /// The executable's entry point (the package manager links `main` to it): hands the
    /// command line to libFuzzer's driver, which calls ``fuzzOneInput(_:_:)``.
    @_cdecl("FuzzPulsarFrames_main")
    func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        var count = argc
        var arguments = argv
        return runFuzzerDriver(&count, &arguments) { data, size in fuzzOneInput(data, size) }
    }
#else
    /// Without libFuzzer: replays the inputs in the files and directories named (a corpus,
    /// or a crash libFuzzer saved), or with `--write-seeds DIR` writes the seed corpus.
    @main struct PulsarFramesReplay {
        static func main() throws {
            var arguments = CommandLine.arguments.dropFirst()
            if arguments.first == "--write-seeds", let directory = arguments.dropFirst().first {
                try PulsarFramesSeeds.write(to: directory)
                return
            }
            var count = 0
            while let path = arguments.popFirst() {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
                let files = isDirectory.boolValue
                    ? try FileManager.default.contentsOfDirectory(atPath: path).map { "\(path)/\($0)" } : [path]
                for file in files {
                    let data = try Data(contentsOf: URL(fileURLWithPath: file))
                    data.withUnsafeBytes { PulsarInputHarness.run($0) }
                    count += 1
                }
            }
            print("replayed \(count) inputs")
        }
    }
#endif

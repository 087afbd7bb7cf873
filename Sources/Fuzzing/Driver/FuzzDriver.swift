import Foundation

/// What every fuzz target shares: under libFuzzer (built with `-DFUZZING`), handing the
/// command line to libFuzzer's driver; without it, replaying saved inputs (a corpus, or a
/// crash libFuzzer kept) and writing a harness's seed corpus.
///
/// A target defines `LLVMFuzzerTestOneInput` (which libFuzzer's runtime links against) and
/// its entry point `<Target>_main` (the package manager's name for an executable's `main`),
/// each calling in here with its harness.
public enum FuzzDriver {
    /// One input, as libFuzzer passes it.
    public typealias Callback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    /// The bytes libFuzzer passes, as a buffer (empty for a null pointer).
    public static func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    }

    #if FUZZING
        @_silgen_name("LLVMFuzzerRunDriver")
        private static func runFuzzerDriver(
            _ argc: UnsafeMutablePointer<CInt>,
            _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
            _ callback: Callback
        ) -> CInt

        /// Runs libFuzzer with the process's arguments, calling `callback` with each input.
        public static func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ callback: Callback) -> CInt {
            var count = argc
            var arguments = argv
            return Self.runFuzzerDriver(&count, &arguments, callback)
        }
    #endif

    /// Without libFuzzer: `--write-seeds DIR` writes `seeds` as `DIR/seed-<n>`; otherwise
    /// every file named, or in a directory named, is passed to `harness` once.
    public static func replay(
        _ arguments: [String], harness: (UnsafeRawBufferPointer) -> Void, seeds: () throws -> [[UInt8]]
    ) throws {
        var arguments = arguments[...]
        if arguments.first == "--write-seeds", let directory = arguments.dropFirst().first {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for (index, seed) in try seeds().enumerated() {
                try Data(seed).write(to: URL(fileURLWithPath: "\(directory)/seed-\(index)"))
            }
            return
        }
        var count = 0
        while let path = arguments.popFirst() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            let files = isDirectory.boolValue
                ? try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { "\(path)/\($0)" } : [path]
            for file in files {
                let data = try Data(contentsOf: URL(fileURLWithPath: file))
                data.withUnsafeBytes { harness($0) }
                count += 1
            }
        }
        print("replayed \(count) inputs")
    }
}

import Foundation

/// The virtual environment with `pulsar-client` that `tools/setup` makes under `.build/`.
public enum PythonClient {
    /// Its Python interpreter; throws when `tools/setup` has not made it.
    public static func interpreter() throws -> String {
        var directory = URL(fileURLWithPath: #filePath)
        while directory.path != "/" {
            directory.deleteLastPathComponent()
            let candidate = directory.appendingPathComponent(".build/pyvenv/bin/python").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw TestHarnessError("no .build/pyvenv with pulsar-client: run tools/setup")
    }
}

import Foundation

/// A fresh directory under the system's temporary directory, removed by ``remove()``.
public struct TemporaryDirectory: Sendable {
    public let path: String

    /// Creates `<tmp>/magnetar-<label>-<random>`.
    public init(label: String = "test") throws {
        let name = "magnetar-\(label)-\(UInt64.random(in: 0...UInt64.max))"
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        self.path = url.path
    }

    /// Also removes the directory when the test process exits normally, for directories
    /// that live as long as the process.
    public func removeAtExit() {
        Reaper.shared.removeAtExit(self.path)
    }

    /// `path/name`.
    public func file(_ name: String) -> String {
        (self.path as NSString).appendingPathComponent(name)
    }

    public func remove() {
        Reaper.shared.keepAtExit(self.path)
        try? FileManager.default.removeItem(atPath: self.path)
    }
}

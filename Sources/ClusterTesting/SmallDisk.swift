import Foundation

/// A small tmpfs mounted on a directory, for tests of full disks. Mounting needs root (CI
/// runs as root); ``mount(at:megabytes:)`` says so clearly when it fails.
public struct SmallDisk: Sendable {
    /// The mount point.
    public let path: String

    /// Creates `path` if needed and mounts a tmpfs of `megabytes` on it.
    public static func mount(at path: String, megabytes: Int) async throws -> SmallDisk {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let mounted = try await ChildProcess.run("mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", path], timeout: .seconds(10))
        guard mounted.status == 0 else {
            throw TestHarnessError("cannot mount a \(megabytes) MiB tmpfs on \(path) (this test needs root): \(mounted.output)")
        }
        return SmallDisk(path: path)
    }

    /// Bytes free for an unprivileged writer.
    public var freeBytes: Int {
        var stats = statvfs()
        guard statvfs(self.path, &stats) == 0 else { return 0 }
        return Int(stats.f_bavail) * Int(stats.f_frsize)
    }

    /// The file ``fill(leaving:)`` allocates.
    public var filler: String { (self.path as NSString).appendingPathComponent("filler") }

    /// Allocates a file that leaves `bytes` free (0: none).
    public func fill(leaving bytes: Int) async throws {
        let size = max(0, self.freeBytes - bytes)
        let filled = try await ChildProcess.run("fallocate", ["-l", "\(size)", self.filler], timeout: .seconds(10))
        guard filled.status == 0 else { throw TestHarnessError("cannot allocate \(size) bytes in \(self.filler): \(filled.output)") }
    }

    /// Removes the file ``fill(leaving:)`` allocated.
    public func free() throws {
        try FileManager.default.removeItem(atPath: self.filler)
    }

    /// Unmounts it (lazily, should a process still hold a file there).
    public func unmount() async {
        _ = try? await ChildProcess.run("umount", ["-l", self.path], timeout: .seconds(10))
    }
}

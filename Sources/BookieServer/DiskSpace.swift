import BookieWire
import Foundation

/// Free and total space of the file systems holding directories.
public enum DiskSpace {
    /// Free and total bytes over the distinct file systems holding `directories`.
    static func info(of directories: [String], readOnly: Bool) -> BookieInfo {
        var seen = Set<UInt64>()
        var info = BookieInfo(freeBytes: 0, totalBytes: 0, readOnly: readOnly)
        for directory in directories {
            var stats = statvfs()
            guard statvfs(directory, &stats) == 0, seen.insert(UInt64(stats.f_fsid)).inserted else { continue }
            let block = UInt64(stats.f_frsize)
            info.freeBytes += UInt64(stats.f_bavail) * block
            info.totalBytes += UInt64(stats.f_blocks) * block
        }
        return info
    }

    /// The fraction of the file system holding `directory` that is in use (0 when unknown).
    public static func usage(of directory: String) -> Double {
        let info = Self.info(of: [directory], readOnly: false)
        guard info.totalBytes > 0 else { return 0 }
        return 1 - Double(info.freeBytes) / Double(info.totalBytes)
    }
}

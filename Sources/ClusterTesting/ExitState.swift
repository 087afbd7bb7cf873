import Foundation

/// Whether a child process has exited, read from `/proc/<pid>/stat` without reaping it.
enum ExitState: Equatable {
    /// Exited and not yet reaped, with its wait status (the stat file's `exit_code`).
    case zombie(Int32)
    /// Reaped (no such process any more).
    case reaped

    /// The state of child `pid`; nil while it runs (or is stopped).
    static func read(_ pid: Int32) -> ExitState? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return .reaped }
        return Self.parse(stat)
    }

    /// Parses a stat line: `pid (comm) state …`, the command in parentheses possibly
    /// holding spaces and parentheses itself; `exit_code` is field 52.
    static func parse(_ stat: String) -> ExitState? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard let state = fields.first, state == "Z" || state == "X" else { return nil }
        // Field 3 is the state, so field N is at N - 3.
        let status = fields.count > 49 ? Int32(fields[49].trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 : 0
        return .zombie(status)
    }
}

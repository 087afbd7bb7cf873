public import Glibc

/// Ties a child process's life to the supervisor that started it (`magnetar standalone`):
/// when the supervisor dies, even by SIGKILL, the child gets a signal instead of living on
/// as an orphan that keeps its ports.
public enum Supervision {
    /// The environment variable through which a supervisor passes its pid to its children.
    public static let parentVariable = "MAGNETAR_SUPERVISOR_PID"

    /// If started by a supervisor (``parentVariable`` set), asks the kernel for `signal`
    /// when the parent dies (SIGTERM for a process that stops cleanly on it, SIGKILL for one
    /// that holds nothing to save); exits at once if the parent already died.
    public static func followSupervisor(signal: Int32 = SIGTERM) {
        guard let value = getenv(Self.parentVariable), let supervisor = pid_t(String(cString: value)) else { return }
        _ = prctl(prSetPdeathsig, UInt(signal), 0, 0, 0)
        // The supervisor may have died before the request was made.
        if getppid() != supervisor { exit(1) }
    }
}

/// Linux's `prctl` (variadic in C, so declared here with the arguments we pass).
@_silgen_name("prctl") private func prctl(_ option: Int32, _ arg2: UInt, _ arg3: UInt, _ arg4: UInt, _ arg5: UInt) -> Int32
private let prSetPdeathsig: Int32 = 1

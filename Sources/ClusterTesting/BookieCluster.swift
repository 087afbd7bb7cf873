import Foundation
import Synchronization

/// Real `bookie` processes on loopback sharing one metadata store, for integration tests.
///
/// Bookie `i` (0-based) is `bookie-<i+1>`: it keeps its port and its directories
/// (`<directory>/bookie-<i+1>/journal` and `…/ledgers`) for the life of the cluster, so a
/// ``restart(_:)`` brings back the same bookie with the same data, and each start writes
/// its output to a new log, `<directory>/bookie-<i+1>-<n>.log`. Every process is tracked
/// like any ``ChildProcess``, so one a test leaves running dies when the test process
/// exits; tests still call ``stopAll()`` in a `defer`. The cluster never removes
/// `directory`: its owner does.
public final class BookieCluster: Sendable {
    /// One bookie slot: what stays fixed across restarts, and the current process.
    private struct Member {
        var id: String
        var port: Int
        var starts: Int
        var process: ChildProcess?
    }

    public let directory: TemporaryDirectory
    /// The `--metadata-url` every bookie runs with.
    public let metadataURL: String
    private let journalSync: Bool
    /// More flags every bookie starts with (testing flags, for instance).
    private let extraArguments: [String]
    private let members = Mutex<[Member]>([])

    private init(directory: TemporaryDirectory, metadataURL: String, journalSync: Bool, extraArguments: [String]) {
        self.directory = directory
        self.metadataURL = metadataURL
        self.journalSync = journalSync
        self.extraArguments = extraArguments
    }

    /// Starts `count` bookies one after another and returns once each has printed
    /// "bookie serving" (it is then registered under `/bookies/available/`). The metadata
    /// URL defaults to `sqlite:<directory>/metadata.db`. When one fails to start, those
    /// already started are killed and the error is thrown.
    public static func start(
        count: Int,
        directory: TemporaryDirectory,
        metadataURL: String? = nil,
        journalSync: Bool = true,
        extraArguments: [String] = []
    ) async throws -> BookieCluster {
        let cluster = BookieCluster(
            directory: directory,
            metadataURL: metadataURL ?? "sqlite:\(directory.file("metadata.db"))",
            journalSync: journalSync,
            extraArguments: extraArguments
        )
        do {
            try await cluster.add(count: count)
        } catch {
            cluster.stopAll()
            throw error
        }
        return cluster
    }

    /// The ids of all bookies, started or not, in index order.
    public var ids: [String] { self.members.withLock { $0.map(\.id) } }

    /// The bookie-protocol port of bookie `index`; it stays the same across restarts.
    public func port(_ index: Int) -> Int { self.member(index).port }

    /// `127.0.0.1:<port>` of bookie `index`, the address it registers.
    public func address(_ index: Int) -> String { "127.0.0.1:\(self.port(index))" }

    /// Whether bookie `index` has a live process.
    /// `host:port` of the running bookie's HTTP server (`/metrics`, `/health`), from its log.
    public func httpAddress(_ index: Int) -> String? {
        guard let output = self.member(index).process?.output(), let start = output.range(of: "http=", options: .backwards) else { return nil }
        let address = output[start.upperBound...].prefix { !$0.isWhitespace }
        return address.isEmpty || address == "off" ? nil : String(address)
    }

    public func isRunning(_ index: Int) -> Bool { self.member(index).process?.isRunning ?? false }

    /// The process id of each bookie, nil for one not running: a bookie restarted has
    /// another.
    public var pids: [Int32?] { self.members.withLock { $0.map { $0.process.map(\.pid) } } }

    /// Starts `count` more bookies with the next ids and waits until each serves. A port
    /// that someone else binds first is replaced by a fresh one (up to three tries).
    public func add(count: Int = 1) async throws {
        precondition(count >= 0, "cannot add \(count) bookies")
        for _ in 0..<count {
            let port = try FreePort.allocate()
            let index = self.members.withLock { members in
                members.append(Member(id: "bookie-\(members.count + 1)", port: port, starts: 0))
                return members.count - 1
            }
            var attempt = 1
            while true {
                do {
                    try await self.launch(index)
                    break
                } catch let error as TestHarnessError where attempt < 3 && error.description.contains("Address already in use") {
                    let port = try FreePort.allocate()
                    self.members.withLock { $0[index].port = port }
                    attempt += 1
                }
            }
        }
    }

    /// Kills bookie `index` with SIGKILL and waits for it to exit: no flush, no
    /// deregistration, so its key in the metadata store lasts until its session expires.
    public func kill(_ index: Int) {
        self.member(index).process?.stop()
    }

    /// Stops bookie `index` with SIGTERM, as an operator would, and waits for it to exit
    /// (it flushes and deregisters). Kills it and throws if it does not exit within 30 s.
    public func terminate(_ index: Int) async throws {
        guard let process = self.member(index).process, process.isRunning else { return }
        process.kill(SIGTERM)
        try await process.waitForExit()
    }

    /// Freezes bookie `index` (SIGSTOP): it keeps its connections and registration but
    /// answers nothing, like a bookie stuck on a slow disk, until ``resume(_:)``.
    public func pause(_ index: Int) {
        self.member(index).process?.kill(SIGSTOP)
    }

    /// Lets a paused bookie run again (SIGCONT).
    public func resume(_ index: Int) {
        self.member(index).process?.kill(SIGCONT)
    }

    /// Starts stopped bookie `index` again with the same id, port and directories, and
    /// waits until it serves; `extraArguments` are added for this start only (a testing
    /// flag, for instance). Throws if it is still running.
    public func restart(_ index: Int, extraArguments: [String] = []) async throws {
        try await self.launch(index, extraArguments: extraArguments)
    }

    /// Removes the journal and ledger directories of stopped bookie `index`, as a lost
    /// disk would. Its cookie stays in the metadata store, so the next start records a
    /// data loss instead of formatting silently. Throws if the bookie is running.
    public func wipe(_ index: Int) throws {
        let member = self.member(index)
        guard !(member.process?.isRunning ?? false) else {
            throw TestHarnessError("cannot wipe \(member.id) while it runs; kill or terminate it first")
        }
        for path in [self.journalDirectory(member.id), self.ledgerDirectory(member.id)]
        where FileManager.default.fileExists(atPath: path) {
            try FileManager.default.removeItem(atPath: path)
        }
    }

    /// Kills every bookie with SIGKILL and waits for each to exit; for `defer` blocks.
    public func stopAll() {
        let processes = self.members.withLock { $0.compactMap(\.process) }
        for process in processes { process.stop() }
    }

    // MARK: Private

    private func member(_ index: Int) -> Member {
        self.members.withLock { members in
            precondition(members.indices.contains(index), "no bookie at index \(index); the cluster has \(members.count)")
            return members[index]
        }
    }

    private func journalDirectory(_ id: String) -> String { self.directory.file("\(id)/journal") }
    private func ledgerDirectory(_ id: String) -> String { self.directory.file("\(id)/ledgers") }

    /// Starts the process of bookie `index` and waits for "bookie serving". The check that
    /// it is stopped and the launch happen under the lock, so two starts cannot race.
    private func launch(_ index: Int, extraArguments: [String] = []) async throws {
        let bookie = try BuiltProducts.path(of: "bookie")
        let process = try self.members.withLock { members in
            precondition(members.indices.contains(index), "no bookie at index \(index); the cluster has \(members.count)")
            let member = members[index]
            if let running = member.process, running.isRunning {
                throw TestHarnessError("\(member.id) is already running (pid \(running.pid))")
            }
            let process = try ChildProcess(
                bookie,
                [
                    "--id", member.id, "--listen", "127.0.0.1:\(member.port)", "--http-port", "0",
                    "--journal-dir", self.journalDirectory(member.id), "--ledger-dirs", self.ledgerDirectory(member.id),
                    "--metadata-url", self.metadataURL, "--journal-sync", self.journalSync ? "true" : "false",
                ] + self.extraArguments + extraArguments,
                logPath: self.directory.file("\(member.id)-\(member.starts + 1).log")
            )
            members[index].starts += 1
            members[index].process = process
            return process
        }
        do {
            try await process.waitForOutput("bookie serving")
        } catch {
            process.stop()
            throw error
        }
    }
}

import ClusterTesting
import Foundation
import Logging
import Metadata
import Synchronization
import Testing

/// The metadata store backends the conformance suite runs against.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory, sqlite, etcd

    var testDescription: String { self.rawValue }

    /// Opens a fresh store (and, for etcd, a key prefix no other test uses), runs `body`,
    /// and closes it.
    func withStore(_ body: (_ store: any MetadataStore, _ root: String) async throws -> Void) async throws {
        let root = "/test-\(UInt32.random(in: 0...UInt32.max))"
        switch self {
        case .memory:
            let store = MemoryMetadataStore()
            try await Self.run(store, root, body)
        case .sqlite:
            let directory = try TemporaryDirectory(label: "sqlite")
            defer { directory.remove() }
            let store = try await SQLiteMetadataStore.open(.init(path: directory.file("metadata.db")), logger: testLogger)
            try await Self.run(store, root, body)
        case .etcd:
            let url = try await SharedEtcd.shared.url()
            let store = try await MetadataStoreURL.open(url, logger: testLogger)
            try await Self.run(store, root, body)
        }
    }

    private static func run(
        _ store: any MetadataStore,
        _ root: String,
        _ body: (any MetadataStore, String) async throws -> Void
    ) async throws {
        do {
            try await body(store, root)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }
}

let testLogger: Logger = {
    var logger = Logger(label: "metadata-tests")
    logger.logLevel = .warning
    return logger
}()

/// One real etcd for the whole test process, started on first use and killed at exit.
actor SharedEtcd {
    static let shared = SharedEtcd()
    private var starting: Task<EtcdServer, any Error>?

    func url() async throws -> String {
        if self.starting == nil {
            self.starting = Task { try await EtcdServer.start() }
        }
        return try await self.starting!.value.url
    }
}

/// Collects a watch's events in the background so tests can wait for them with a deadline.
final class EventCollector: Sendable {
    private struct State {
        var events: [MetadataEvent] = []
        var failure: (any Error)?
    }

    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    private let shared = Shared()
    private let task: Task<Void, Never>

    init(_ watch: MetadataWatch) {
        let shared = self.shared
        self.task = Task {
            do {
                for try await event in watch { shared.state.withLock { $0.events.append(event) } }
            } catch {
                shared.state.withLock { $0.failure = error }
            }
        }
    }

    deinit {
        self.task.cancel()
    }

    var received: [MetadataEvent] { self.shared.state.withLock { $0.events } }

    /// Waits until `condition` holds for the events so far; throws after `timeout`.
    @discardableResult
    func wait(timeout: Duration = .seconds(10), until condition: ([MetadataEvent]) -> Bool) async throws -> [MetadataEvent] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (events, failure) = self.shared.state.withLock { ($0.events, $0.failure) }
            if condition(events) { return events }
            if let failure {
                throw TestHarnessError("the watch failed: \(failure); events so far: \(events)")
            }
            guard ContinuousClock.now < deadline else {
                throw TestHarnessError("condition not met within \(timeout); events: \(events)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    func stop() {
        self.task.cancel()
    }
}

/// Runs `body` and returns the `MetadataError` it threw (failing the test if it threw
/// nothing or something else).
func metadataError(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async -> MetadataError? {
    do {
        try await body()
        Issue.record("expected a MetadataError, but the call succeeded", sourceLocation: sourceLocation)
    } catch let error as MetadataError {
        return error
    } catch {
        Issue.record("expected a MetadataError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

extension String {
    var bytes: [UInt8] { Array(self.utf8) }
}

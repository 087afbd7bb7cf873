import Foundation

/// A thread that owns a resource (a SQLite connection) and runs the jobs submitted to it
/// in order, plus a periodic `tick` whenever `interval` has passed — without depending on
/// Swift's cooperative pool, so a busy pool cannot delay the tick.
final class DatabaseThread<Resource>: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [(Resource) -> Void] = []
    private var stopping = false
    private var stopped = false
    private let resource: Resource
    private let interval: Duration
    private let tick: (Resource) -> Void

    /// Starts the thread. `tick` runs on it every `interval` until ``stop()``.
    init(name: String, resource: Resource, interval: Duration, tick: @escaping (Resource) -> Void) {
        self.resource = resource
        self.interval = interval
        self.tick = tick
        let thread = Thread { self.run() }
        thread.name = name
        thread.start()
    }

    /// Runs `body` on the thread and returns its result; throws `closed` after ``stop()``.
    func submit<T: Sendable>(_ body: @escaping (Resource) throws(MetadataError) -> T) async throws(MetadataError) -> T {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, MetadataError>, Never>) in
            self.condition.lock()
            guard !self.stopping else {
                self.condition.unlock()
                continuation.resume(returning: .failure(MetadataError(.unavailable, "the store is closed")))
                return
            }
            self.jobs.append { resource in
                continuation.resume(returning: Result { () throws(MetadataError) in try body(resource) })
            }
            self.condition.signal()
            self.condition.unlock()
        }
        return try result.get()
    }

    /// Finishes queued jobs, then stops the thread and waits for it.
    func stop() {
        self.condition.lock()
        self.stopping = true
        self.condition.signal()
        while !self.stopped { self.condition.wait() }
        self.condition.unlock()
    }

    private func run() {
        var nextTick = Date().addingTimeInterval(self.seconds)
        while true {
            self.condition.lock()
            while self.jobs.isEmpty && !self.stopping && Date() < nextTick {
                _ = self.condition.wait(until: nextTick)
            }
            let jobs = self.jobs
            self.jobs.removeAll()
            let stopping = self.stopping
            self.condition.unlock()
            for job in jobs { job(self.resource) }
            if stopping { break }
            if Date() >= nextTick {
                self.tick(self.resource)
                nextTick = Date().addingTimeInterval(self.seconds)
            }
        }
        self.condition.lock()
        self.stopped = true
        self.condition.broadcast()
        self.condition.unlock()
    }

    private var seconds: TimeInterval {
        Double(self.interval.components.seconds) + Double(self.interval.components.attoseconds) / 1e18
    }
}

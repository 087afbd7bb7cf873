import Synchronization

extension HTTPServer {
    /// The bound port, or the failure to bind, for any number of waiters.
    final class Binding: Sendable {
        private enum State {
            case waiting([CheckedContinuation<Int, any Error>])
            case bound(Int)
            case failed(any Error)
        }

        private let state = Mutex(State.waiting([]))

        func bound(port: Int) {
            let waiters = self.state.withLock { state -> [CheckedContinuation<Int, any Error>] in
                guard case .waiting(let waiters) = state else { return [] }
                state = .bound(port)
                return waiters
            }
            for waiter in waiters { waiter.resume(returning: port) }
        }

        /// Fails the waiters if the port was not bound yet; a bound port stays known.
        func failed(_ error: any Error) {
            let waiters = self.state.withLock { state -> [CheckedContinuation<Int, any Error>] in
                guard case .waiting(let waiters) = state else { return [] }
                state = .failed(error)
                return waiters
            }
            for waiter in waiters { waiter.resume(throwing: error) }
        }

        func port() async throws -> Int {
            try await withCheckedThrowingContinuation { continuation in
                let result = self.state.withLock { state -> Result<Int, any Error>? in
                    switch state {
                    case .waiting(var waiters):
                        waiters.append(continuation)
                        state = .waiting(waiters)
                        return nil
                    case .bound(let port): return .success(port)
                    case .failed(let error): return .failure(error)
                    }
                }
                if let result { continuation.resume(with: result) }
            }
        }
    }
}

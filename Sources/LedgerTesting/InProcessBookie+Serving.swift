import BookieStorage
import BookieWire
import Dispatch
import NIOCore
import Synchronization

extension InProcessBookie {
    /// Serves a request from the store as the bookie server does: adds and LAC writes
    /// answer once journaled; a fencing read fences first and answers a missing entry
    /// with no entries (a fenced ledger gains none); a long poll waits, on the bookie's
    /// clock, for the LAC to pass the reader's. Every store call runs on the read queue,
    /// and none once the bookie is shut down.
    func serve(_ request: BookieRequest.Body, respond: @escaping @Sendable (BookieResponse) -> Void) {
        self.readQueue.async {
            guard !self.isClosed else {
                return respond(.failure(0, BookieRequest(requestID: 0, request).operation, .ioError, "bookie \(self.id) is shut down"))
            }
            self.serveOnQueue(request, respond: respond)
        }
    }

    private func serveOnQueue(_ request: BookieRequest.Body, respond: @escaping @Sendable (BookieResponse) -> Void) {
        switch request {
        case .add(let entry, let key, let recovery):
            self.store.addEntry(entry, ledgerKey: key, recovery: recovery) { result in
                switch result {
                case .success(let (ledgerID, entryID)): respond(BookieResponse(requestID: 0, .add(ledgerID: ledgerID, entryID: entryID)))
                case .failure(let refusal): respond(.failure(0, .add, refusal.status, refusal.message))
                }
            }
        case .read(let read):
            if let poll = read.longPoll { return self.longPoll(read, poll, respond: respond) }
            guard read.fence else { return self.readEntries(read, fencedLAC: nil, respond: respond) }
            self.store.fence(ledgerID: read.ledgerID, ledgerKey: read.ledgerKey) { result in
                switch result {
                case .success(let lac): self.readEntries(read, fencedLAC: lac, respond: respond)
                case .failure(let refusal): respond(.failure(0, .read, refusal.status, refusal.message))
                }
            }
        case .readLAC(let ledgerID):
            self.run(.readLAC, respond: respond) { store throws(BookieStore.Refusal) in
                .readLAC(ledgerID: ledgerID, lastAddConfirmed: try store.lastAddConfirmed(ledgerID: ledgerID))
            }
        case .writeLAC(let ledgerID, let lac, let key):
            self.store.writeLastAddConfirmed(ledgerID: ledgerID, lac: lac, ledgerKey: key) { result in
                switch result {
                case .success: respond(BookieResponse(requestID: 0, .writeLAC(ledgerID: ledgerID)))
                case .failure(let refusal): respond(.failure(0, .writeLAC, refusal.status, refusal.message))
                }
            }
        case .getInfo:
            respond(BookieResponse(requestID: 0, .getInfo(BookieInfo(freeBytes: 1 << 40, totalBytes: 1 << 40, readOnly: self.store.isReadOnly))))
        }
    }

    private func readEntries(_ read: ReadRequest, fencedLAC: Int64?, respond: @escaping @Sendable (BookieResponse) -> Void) {
        self.run(.read, respond: respond) { store throws(BookieStore.Refusal) in
            var lac = fencedLAC ?? -1
            if fencedLAC == nil, let state = try store.ledgerState(read.ledgerID) { lac = state.lastAddConfirmed }
            let entries: [ByteBuffer]
            do throws(BookieStore.Refusal) {
                entries = try store.readEntries(
                    ledgerID: read.ledgerID, firstEntryID: read.firstEntryID, maxEntries: Int(read.maxEntries), maxBytes: Int(read.maxBytes)
                )
            } catch {
                guard error.status == .noEntry, fencedLAC != nil else { throw error }
                entries = []
            }
            return .read(ledgerID: read.ledgerID, firstEntryID: read.firstEntryID, lastAddConfirmed: lac, entries: entries)
        }
    }

    /// Answers once the LAC passes `poll.previousLAC` (with the entries it covers from
    /// `firstEntryID`), or at the timeout with no entries.
    private func longPoll(_ read: ReadRequest, _ poll: ReadRequest.LongPoll, respond: @escaping @Sendable (BookieResponse) -> Void) {
        let answered = AnsweredFlag()
        let store = self.store
        let answer: @Sendable (Int64, Bool) -> Void = { lac, timedOut in
            guard answered.claim() else { return }
            guard !timedOut, lac >= 0, UInt64(lac) >= read.firstEntryID else {
                return respond(BookieResponse(requestID: 0, .read(ledgerID: read.ledgerID, firstEntryID: read.firstEntryID, lastAddConfirmed: lac, entries: [])))
            }
            self.run(.read, respond: respond) { store throws(BookieStore.Refusal) in
                let covered = min(Int(read.maxEntries), Int(UInt64(lac) - read.firstEntryID) + 1)
                let entries = try store.readEntries(ledgerID: read.ledgerID, firstEntryID: read.firstEntryID, maxEntries: covered, maxBytes: Int(read.maxBytes))
                return .read(ledgerID: read.ledgerID, firstEntryID: read.firstEntryID, lastAddConfirmed: lac, entries: entries)
            }
        }
        let token: Int?
        do throws(BookieStore.Refusal) {
            token = try store.waitForLAC(ledgerID: read.ledgerID, above: poll.previousLAC) { lac in answer(lac, false) }
        } catch {
            return respond(.failure(0, .read, error.status, error.message))
        }
        guard let token else { return }
        let clock = self.clock
        Task {
            try? await clock.sleep(for: .milliseconds(Int64(poll.timeoutMilliseconds)))
            self.readQueue.async {
                guard !self.isClosed else { return answer(-1, true) }
                store.cancelLACWait(ledgerID: read.ledgerID, token: token)
                answer((try? store.ledgerState(read.ledgerID)?.lastAddConfirmed) ?? -1, true)
            }
        }
    }

    /// Runs blocking `work` on the read queue and responds with its body or its refusal.
    private func run(
        _ operation: BookieOperation,
        respond: @escaping @Sendable (BookieResponse) -> Void,
        _ work: @escaping @Sendable (BookieStore) throws(BookieStore.Refusal) -> BookieResponse.Body
    ) {
        let store = self.store
        self.readQueue.async {
            guard !self.isClosed else { return respond(.failure(0, operation, .ioError, "bookie \(self.id) is shut down")) }
            do throws(BookieStore.Refusal) {
                respond(BookieResponse(requestID: 0, try work(store)))
            } catch {
                respond(.failure(0, operation, error.status, error.message))
            }
        }
    }
}

/// Set by the first of a long poll's two possible answers (the LAC moved, the timeout).
private final class AnsweredFlag: Sendable {
    private let answered = Atomic(false)

    /// True for the first caller only.
    func claim() -> Bool {
        !self.answered.exchange(true, ordering: .acquiringAndReleasing)
    }
}

import BookieWire
import NIOCore

extension LedgerWriter {
    /// Called when the writer has nothing pending: if the bookies have not been told the
    /// LAC (each add carries the LAC of its send, so the last add's is one behind), tells
    /// them once the writer has stayed idle for the configured delay. Readers then see
    /// every confirmed entry, and a recovery has nothing to rewrite.
    func scheduleLACUpdate() {
        guard !self.lacUpdateScheduled, self.terminal == nil, self.confirmed > self.lacSent else { return }
        self.lacUpdateScheduled = true
        self.client.clock.schedule(in: self.client.configuration.explicitLACDelay, on: self.eventLoop) {
            self.lacUpdateScheduled = false
            self.sendLAC()
        }
    }

    /// Sends WRITE_LAC to every bookie of the last ensemble, unless adds went out
    /// meanwhile (they carry the LAC, and the writer comes back here once they are
    /// confirmed). Answers are not awaited: an unreachable bookie shows up on the next add.
    private func sendLAC() {
        guard self.terminal == nil, self.pendingCount == 0, self.confirmed > self.lacSent else { return }
        let lac = self.confirmed
        self.lacSent = lac
        let request = BookieRequest.Body.writeLAC(ledgerID: UInt64(self.ledgerID), lastAddConfirmed: lac, ledgerKey: self.metadata.key)
        for bookie in self.metadata.ensembles[self.metadata.ensembles.count - 1].bookies {
            self.client.bookies.connection(bookie)?.send(request, timeout: self.client.bookies.requestTimeout) { _ in }
        }
    }
}

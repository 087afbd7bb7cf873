import Foundation
import ManagedLedger
import NIOCore

extension Subscription {
    /// The time now, as delivery times are given: milliseconds since 1970.
    static var now: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// The longest a release timer waits, in milliseconds: a day.
    static let longestWait: Int64 = 86_400_000

    /// Holds `position` until `time` and makes sure a release is scheduled for it; false
    /// when the index is full.
    func hold(_ position: Position, until time: Int64) -> Bool {
        guard self.delayed.add(position, at: time) else { return false }
        self.scheduleDelayedRelease()
        return true
    }

    /// Schedules the release of the earliest held message, unless one is scheduled sooner.
    func scheduleDelayedRelease() {
        guard let next = self.delayed.nextTime, let topic = self.topic else { return }
        if let pending = self.delayedRelease, pending.at <= next { return }
        self.delayedRelease?.task.cancel()
        // A client may ask for any time: the wait is cut to a day (the release then looks
        // again), so no time far off overflows the timer.
        let wait = TimeAmount.milliseconds(min(max(0, next.subtractingReportingOverflow(Self.now).partialValue), Self.longestWait))
        let task = topic.eventLoop.scheduleTask(in: wait) { [weak self] in
            guard let subscription = self else { return }
            topic.onLoop { _ in subscription.releaseDelayed() }
        }
        self.delayedRelease = (next, task)
    }

    /// Sends the held messages whose time has come (before reading on) and schedules the
    /// next release.
    func releaseDelayed() {
        self.delayedRelease = nil
        let due = self.delayed.takeDue(now: Self.now)
        if !due.isEmpty { self.scheduleRedelivery(due, counting: false) }
        self.scheduleDelayedRelease()
        self.dispatch()
    }

    /// Forgets every held message (a seek: they are read again from the new position).
    func dropDelayed() {
        self.delayed.removeAll()
        self.delayedRelease?.task.cancel()
        self.delayedRelease = nil
    }
}

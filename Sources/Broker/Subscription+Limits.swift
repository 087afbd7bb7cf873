extension Subscription {
    /// A consumer's unacknowledged messages changed by `delta`; blocks or unblocks the
    /// subscription against `maxUnackedMessagesPerSubscription` (Shared and Key_Shared only),
    /// and dispatches again once it may take more.
    func unackedChanged(by delta: Int) {
        self.unackedMessages += delta
        let limit = self.sharesMessages ? self.limits.unackedPerSubscription : 0
        if limit > 0, self.unackedMessages >= limit {
            self.blockedOnUnacked = true
        } else if self.blockedOnUnacked, limit == 0 || self.unackedMessages <= limit / 2 {
            self.blockedOnUnacked = false
            self.dispatch()
        }
    }
}

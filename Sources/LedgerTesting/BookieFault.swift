public import BookieWire

/// What an ``InProcessBookie`` does with a request instead of serving it, as chosen by
/// the rule a test sets with ``InProcessBookie/setFault(_:)``.
public enum BookieFault: Sendable {
    /// The request is lost: no answer comes, and the client's request times out.
    case drop
    /// The bookie answers at once with this failure status, storing nothing.
    case fail(BookieStatus)
    /// The request is served after this long on the cluster's clock.
    case delay(Duration)
    /// The request waits, unserved, until ``InProcessBookie/releaseHeld()`` (a frozen
    /// process); it may time out meanwhile, and is served anyway when released.
    case hold
    /// The bookie cannot be reached: the request fails at once, as on a refused connection.
    case unavailable
}

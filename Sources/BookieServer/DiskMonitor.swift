/// Decides when a bookie turns read-only and back, from its disks' usage.
///
/// Past `readOnlyAbove` (a fraction of the disk in use) the bookie refuses normal adds;
/// it takes them again only once usage falls to `writableBelow`, so that it does not
/// flap around one threshold.
public struct DiskMonitor: Sendable, Equatable {
    public var readOnlyAbove: Double
    public var writableBelow: Double
    /// Past this the bookie refuses recovery adds too (copies for re-replication and
    /// ledger recovery), so that they cannot fill its disks: halfway from `readOnlyAbove`
    /// to a full disk unless given.
    public var fullAbove: Double
    public private(set) var readOnly = false
    public private(set) var full = false

    /// - Precondition: `0 <= writableBelow <= readOnlyAbove <= fullAbove <= 1`.
    public init(readOnlyAbove: Double = 0.95, writableBelow: Double = 0.90, fullAbove: Double? = nil) {
        let fullAbove = fullAbove ?? (readOnlyAbove + (1 - readOnlyAbove) / 2)
        precondition(
            0 <= writableBelow && writableBelow <= readOnlyAbove && readOnlyAbove <= fullAbove && fullAbove <= 1, "disk thresholds out of order"
        )
        self.readOnlyAbove = readOnlyAbove
        self.writableBelow = writableBelow
        self.fullAbove = fullAbove
    }

    /// Takes a usage reading; returns true when the state changed.
    public mutating func observe(usage: Double) -> Bool {
        let before = self.readOnly
        if !self.readOnly, usage >= self.readOnlyAbove {
            self.readOnly = true
        } else if self.readOnly, usage <= self.writableBelow {
            self.readOnly = false
        }
        self.full = usage >= self.fullAbove
        return self.readOnly != before
    }
}

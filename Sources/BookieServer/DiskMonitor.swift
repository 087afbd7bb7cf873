/// Decides when a bookie turns read-only and back, from its disks' usage.
///
/// Past `readOnlyAbove` (a fraction of the disk in use) the bookie refuses normal adds;
/// it takes them again only once usage falls to `writableBelow`, so that it does not
/// flap around one threshold.
public struct DiskMonitor: Sendable, Equatable {
    public var readOnlyAbove: Double
    public var writableBelow: Double
    public private(set) var readOnly = false

    /// - Precondition: `0 <= writableBelow <= readOnlyAbove <= 1`.
    public init(readOnlyAbove: Double = 0.95, writableBelow: Double = 0.90) {
        precondition(0 <= writableBelow && writableBelow <= readOnlyAbove && readOnlyAbove <= 1, "disk thresholds out of order")
        self.readOnlyAbove = readOnlyAbove
        self.writableBelow = writableBelow
    }

    /// Takes a usage reading; returns true when the state changed.
    public mutating func observe(usage: Double) -> Bool {
        let before = self.readOnly
        if !self.readOnly, usage >= self.readOnlyAbove {
            self.readOnly = true
        } else if self.readOnly, usage <= self.writableBelow {
            self.readOnly = false
        }
        return self.readOnly != before
    }
}

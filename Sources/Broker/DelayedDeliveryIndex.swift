import ManagedLedger

/// The messages a subscription holds back until their delivery time, as a pure value: a
/// min-heap of (time, position), bounded. When it is full the subscription reads no
/// further until some are released, so memory stays bounded whatever clients ask for.
///
/// It is rebuilt after a reload by reading again: every held message lies after the
/// cursor's mark-delete position, so a topic loaded anew reads it again and holds it
/// again (or delivers it, if its time has come).
struct DelayedDeliveryIndex: Sendable {
    /// Most messages held at once (24 bytes each).
    let capacity: Int
    private var heap: [Item] = []

    private struct Item: Sendable {
        var time: Int64
        var position: Position

        static func < (lhs: Item, rhs: Item) -> Bool { (lhs.time, lhs.position) < (rhs.time, rhs.position) }
    }

    init(capacity: Int = 1_000_000) {
        self.capacity = capacity
    }

    /// Messages held.
    var count: Int { self.heap.count }

    var isFull: Bool { self.heap.count >= self.capacity }

    /// The earliest delivery time held (milliseconds since 1970).
    var nextTime: Int64? { self.heap.first?.time }

    /// Holds `position` until `time`; false when full.
    mutating func add(_ position: Position, at time: Int64) -> Bool {
        guard !self.isFull else { return false }
        self.heap.append(Item(time: time, position: position))
        var child = self.heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard self.heap[child] < self.heap[parent] else { break }
            self.heap.swapAt(child, parent)
            child = parent
        }
        return true
    }

    /// Takes every message whose time is at or before `now`, in position order.
    mutating func takeDue(now: Int64) -> [Position] {
        var due: [Position] = []
        while let first = self.heap.first, first.time <= now {
            due.append(first.position)
            self.removeFirst()
        }
        return due.sorted()
    }

    mutating func removeAll() {
        self.heap.removeAll()
    }

    private mutating func removeFirst() {
        let last = self.heap.removeLast()
        guard !self.heap.isEmpty else { return }
        self.heap[0] = last
        var parent = 0
        while true {
            let (left, right) = (2 * parent + 1, 2 * parent + 2)
            var smallest = parent
            if left < self.heap.count, self.heap[left] < self.heap[smallest] { smallest = left }
            if right < self.heap.count, self.heap[right] < self.heap[smallest] { smallest = right }
            guard smallest != parent else { return }
            self.heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}

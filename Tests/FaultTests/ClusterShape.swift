/// The processes of the cluster under test, counted by role.
struct ClusterShape: Hashable, Sendable {
    var brokers: Int
    var bookies: Int
    var etcdMembers: Int

    func count(_ role: FaultRole) -> Int {
        switch role {
        case .broker: self.brokers
        case .bookie: self.bookies
        case .etcd: self.etcdMembers
        }
    }
}

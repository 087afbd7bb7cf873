import Testing

@Suite struct NemesisTests {
    static let settings = Nemesis.Settings(
        shape: ClusterShape(brokers: 3, bookies: 4, etcdMembers: 3), sessionTTL: .seconds(2), gap: .milliseconds(1500)...(.milliseconds(3000))
    )

    @Test func theScheduleFollowsFromTheSeed() {
        let first = Nemesis.schedule(seed: 42, count: 300, settings: Self.settings)
        let again = Nemesis.schedule(seed: 42, count: 300, settings: Self.settings)
        let other = Nemesis.schedule(seed: 43, count: 300, settings: Self.settings)
        #expect(first.count == 300)
        #expect(first == again)
        #expect(first != other)
        // A longer run starts with the shorter one's faults.
        #expect(Array(Nemesis.schedule(seed: 42, count: 400, settings: Self.settings).prefix(300)) == first)
    }

    @Test(arguments: [UInt64(1), 7, 1234, 0xDEAD_BEEF, .max])
    func atMostOneProcessPerRoleIsStruckAtOnce(seed: UInt64) {
        let schedule = Nemesis.schedule(seed: seed, count: 500, settings: Self.settings)
        for (index, item) in schedule.enumerated() {
            let overlapping = schedule[..<index].filter { $0.healAt > item.at }
            #expect(!overlapping.contains { $0.fault.kind.role == item.fault.kind.role }, "\(item) overlaps \(overlapping)")
            #expect((0..<Self.settings.shape.count(item.fault.kind.role)).contains(item.fault.target))
        }
        // Hence etcd keeps a quorum (2 of 3), bookies an ensemble (3 of 4), brokers 2 of 3.
        let times = Set(schedule.map(\.at))
        for time in times {
            let inEffect = schedule.filter { $0.at <= time && time < $0.healAt }
            for role in FaultRole.allCases {
                #expect(inEffect.filter { $0.fault.kind.role == role }.count <= 1)
            }
        }
    }

    @Test func everyKindIsChosenAndPausesOutlastTheSession() {
        let schedule = Nemesis.schedule(seed: 99, count: 500, settings: Self.settings)
        #expect(Set(schedule.map(\.fault.kind)) == Set(FaultKind.allCases))
        for item in schedule where [FaultKind.pauseBroker, .pauseBookie, .isolateBroker].contains(item.fault.kind) {
            #expect(item.fault.duration > Self.settings.sessionTTL)
        }
        for item in schedule {
            #expect(item.fault.duration > .zero && item.fault.duration <= .seconds(6))
        }
        let gaps = zip(schedule.dropFirst(), schedule).map { $0.at - $1.at }
        #expect(gaps.allSatisfy { $0 >= Self.settings.gap.lowerBound })
    }

    @Test func nothingIsChosenWhenEveryRoleIsStruck() {
        var nemesis = Nemesis(seed: 5, settings: Self.settings)
        let busy = [
            Fault(kind: .killBroker, target: 0, duration: .seconds(1)),
            Fault(kind: .fillBookieDisk, target: 2, duration: .seconds(1)),
            Fault(kind: .isolateEtcd, target: 1, duration: .seconds(1)),
        ]
        #expect(nemesis.next(active: busy) == nil)
        let next = nemesis.next(active: Array(busy.dropLast()))
        #expect(next?.kind.role == .etcd)
    }

    @Test func onlyTheChosenKindsAreUsed() {
        var settings = Self.settings
        settings.kinds = [.killBookie, .pauseEtcd]
        let schedule = Nemesis.schedule(seed: 3, count: 100, settings: settings)
        #expect(Set(schedule.map(\.fault.kind)) == [.killBookie, .pauseEtcd])
    }
}

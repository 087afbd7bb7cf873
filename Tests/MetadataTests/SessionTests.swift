import Metadata
import Testing

/// Sessions and ephemeral keys, run against every backend.
@Suite("MetadataStore sessions", .timeLimit(.minutes(2)))
struct SessionTests {
    @Test(arguments: Backend.allCases)
    func closingASessionDeletesItsKeys(backend: Backend) async throws {
        try await backend.withStore { store, root in
            let session = try await store.createSession(ttl: .seconds(10))
            let events = EventCollector(try await store.watch(.prefix("\(root)/")))
            let version = try await store.put("\(root)/eph", value: "mine".bytes, expecting: .absent, session: session)
            try await store.put("\(root)/durable", value: "stays".bytes)
            #expect(try await store.get("\(root)/eph") == Versioned(value: "mine".bytes, version: version, session: session.id))
            try await store.closeSession(session)
            #expect(try await store.get("\(root)/eph") == nil)
            #expect(try await store.get("\(root)/durable") != nil)
            let seen = try await events.wait { $0.contains { $0.kind == .delete } }
            #expect(seen.last == MetadataEvent(kind: .delete, key: "\(root)/eph", value: [], version: seen.last!.version))
            #expect(await metadataError { try await store.keepAlive(session) }?.code == .sessionExpired)
            #expect(await metadataError { try await store.put("\(root)/late", value: [], session: session) }?.code == .sessionExpired)
            #expect(try await store.get("\(root)/late") == nil)
        }
    }

    @Test(arguments: Backend.allCases)
    func keepAliveHoldsASessionPastItsTTL(backend: Backend) async throws {
        try await backend.withStore { store, root in
            // Long enough that a test runner busy with other tests still gets a keep-alive
            // through in each third of it.
            let session = try await store.createSession(ttl: .seconds(3))
            try await store.put("\(root)/kept", value: [], session: session)
            let keeper = Task { try await store.keepSessionAlive(session) }
            try await Task.sleep(for: session.ttl * 2)
            #expect(try await store.get("\(root)/kept") != nil, "alive after two TTLs of keep-alive")
            keeper.cancel()
            try await keeper.value
            try await store.closeSession(session)
        }
    }

    @Test(arguments: Backend.allCases)
    func anAbandonedSessionExpiresAndItsKeysGo(backend: Backend) async throws {
        try await backend.withStore { store, root in
            // Watch first: on a loaded machine the puts below can take longer than the TTL.
            let events = EventCollector(try await store.watch(.prefix("\(root)/")))
            let start = ContinuousClock.now
            let session = try await store.createSession(ttl: .seconds(2))
            let other = try await store.createSession(ttl: .seconds(30))
            do {
                try await store.put("\(root)/a", value: [], session: session)
                try await store.put("\(root)/b", value: [], session: session)
            } catch let error as MetadataError where error.code == .sessionExpired {
                // A runner starved for seconds: the session may expire before the puts land.
                // Then it must at least not have expired early.
                let elapsed = ContinuousClock.now - start
                #expect(elapsed >= session.ttl, "expired after \(elapsed), before its TTL")
                try await store.closeSession(other)
                return
            }
            try await store.put("\(root)/other", value: [], session: other)
            let seen = try await events.wait(timeout: session.ttl + .seconds(5)) { $0.filter { $0.kind == .delete }.count >= 2 }
            let elapsed = ContinuousClock.now - start
            #expect(Set(seen.filter { $0.kind == .delete }.map(\.key)) == ["\(root)/a", "\(root)/b"])
            #expect(elapsed <= session.ttl + .seconds(3), "expired \(elapsed) after the session was created")
            #expect(try await store.get("\(root)/a") == nil)
            #expect(try await store.get("\(root)/other") != nil, "another session's key stays")
            #expect(await metadataError { try await store.keepAlive(session) }?.code == .sessionExpired)
            try await store.closeSession(other)
        }
    }

    @Test(arguments: Backend.allCases)
    func anUnusableTTLIsRejected(backend: Backend) async throws {
        try await backend.withStore { store, _ in
            #expect(await metadataError { _ = try await store.createSession(ttl: .milliseconds(10)) }?.code == .invalidArgument)
        }
    }
}

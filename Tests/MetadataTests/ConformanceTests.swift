import Metadata
import Testing

/// Every behaviour of `MetadataStore`, run against every backend.
@Suite("MetadataStore conformance", .timeLimit(.minutes(2)))
struct ConformanceTests {
    @Test(arguments: Backend.allCases)
    func getReturnsWhatPutWrote(backend: Backend) async throws {
        try await backend.withStore { store, root in
            #expect(try await store.get("\(root)/missing") == nil)
            let first = try await store.put("\(root)/a", value: "one".bytes)
            let read = try #require(try await store.get("\(root)/a"))
            #expect(read.value == "one".bytes)
            #expect(read.version == first)
            #expect(read.session == nil)
            let second = try await store.put("\(root)/a", value: "two".bytes)
            #expect(second > first)
            #expect(try await store.get("\(root)/a")?.value == "two".bytes)
            let other = try await store.put("\(root)/b", value: [])
            #expect(other > second, "versions increase across keys")
            #expect(try await store.get("\(root)/b")?.value == [])
        }
    }

    @Test(arguments: Backend.allCases)
    func binaryValuesRoundTrip(backend: Backend) async throws {
        try await backend.withStore { store, root in
            let value = (0...255).map { UInt8($0) } + [0, 0, 0xFF]
            try await store.put("\(root)/binary", value: value)
            #expect(try await store.get("\(root)/binary")?.value == value)
        }
    }

    @Test(arguments: Backend.allCases)
    func putExpectations(backend: Backend) async throws {
        try await backend.withStore { store, root in
            let key = "\(root)/cas"
            let created = try await store.put(key, value: "v1".bytes, expecting: .absent)
            #expect(await metadataError { try await store.put(key, value: "x".bytes, expecting: .absent) }?.code == .alreadyExists)
            #expect(await metadataError { try await store.put(key, value: "x".bytes, expecting: .version(created + 100)) }?.code == .badVersion)
            #expect(await metadataError { try await store.put("\(root)/nope", value: "x".bytes, expecting: .version(created)) }?.code == .notFound)
            #expect(try await store.get(key)?.value == "v1".bytes, "failed writes change nothing")
            let updated = try await store.put(key, value: "v2".bytes, expecting: .version(created))
            #expect(updated > created)
            #expect(await metadataError { try await store.put(key, value: "x".bytes, expecting: .version(created)) }?.code == .badVersion)
            #expect(try await store.get(key) == Versioned(value: "v2".bytes, version: updated))
        }
    }

    @Test(arguments: Backend.allCases)
    func deleteExpectations(backend: Backend) async throws {
        try await backend.withStore { store, root in
            let key = "\(root)/gone"
            #expect(await metadataError { try await store.delete(key) }?.code == .notFound)
            let version = try await store.put(key, value: "x".bytes)
            #expect(await metadataError { try await store.delete(key, expecting: .version(version + 1)) }?.code == .badVersion)
            #expect(await metadataError { try await store.delete(key, expecting: .absent) }?.code == .invalidArgument)
            #expect(try await store.get(key) != nil)
            try await store.delete(key, expecting: .version(version))
            #expect(try await store.get(key) == nil)
            #expect(await metadataError { try await store.delete(key, expecting: .version(version)) }?.code == .notFound)
            try await store.put(key, value: "again".bytes, expecting: .absent)
            try await store.delete(key)
            #expect(try await store.get(key) == nil)
        }
    }

    @Test(arguments: Backend.allCases)
    func childrenAreDirectAndOrdered(backend: Backend) async throws {
        try await backend.withStore { store, root in
            for key in ["b", "a", "c/d/e", "a/x", "a-b", "a0", "B"] {
                try await store.put("\(root)/p/\(key)", value: [])
            }
            try await store.put("\(root)/pp", value: [])
            try await store.put("\(root)/p", value: [])
            #expect(try await store.children(of: "\(root)/p") == ["B", "a", "a-b", "a0", "b", "c"])
            #expect(try await store.children(of: "\(root)/p/c") == ["d"])
            #expect(try await store.children(of: "\(root)/p/a") == ["x"])
            #expect(try await store.children(of: "\(root)/p/b") == [])
            #expect(try await store.children(of: "\(root)/nothing") == [])
            #expect(try await store.children(of: "/").contains(String(root.dropFirst())))
        }
    }

    @Test(arguments: Backend.allCases)
    func malformedKeysAreRejected(backend: Backend) async throws {
        try await backend.withStore { store, root in
            for key in ["", "relative", "/", "\(root)/trailing/", "\(root)//double", "\(root)/nul\u{0}"] {
                #expect(await metadataError { try await store.put(key, value: []) }?.code == .invalidArgument, "key \(key.debugDescription)")
                #expect(await metadataError { _ = try await store.get(key) }?.code == .invalidArgument, "key \(key.debugDescription)")
            }
            #expect(await metadataError { _ = try await store.children(of: "no-slash") }?.code == .invalidArgument)
        }
    }

    @Test(arguments: Backend.allCases)
    func watchOfAKeySeesItsChangesInOrder(backend: Backend) async throws {
        try await backend.withStore { store, root in
            let key = "\(root)/watched"
            try await store.put(key, value: "before".bytes)
            let events = EventCollector(try await store.watch(.key(key)))
            let v1 = try await store.put(key, value: "one".bytes)
            try await store.put("\(root)/watched-not", value: "other key".bytes)
            try await store.put("\(root)/watched/child", value: "other key".bytes)
            let v2 = try await store.put(key, value: "two".bytes, expecting: .version(v1))
            try await store.delete(key)
            let seen = try await events.wait { $0.count >= 3 }
            #expect(seen.map(\.kind) == [.put, .put, .delete])
            #expect(seen.map(\.key) == [key, key, key])
            #expect(seen[0].value == "one".bytes && seen[0].version == v1)
            #expect(seen[1].value == "two".bytes && seen[1].version == v2)
            #expect(seen[2].version > v2)
            try await Task.sleep(for: .milliseconds(200))
            #expect(events.received.count == 3, "nothing else arrives")
            events.stop()
        }
    }

    @Test(arguments: Backend.allCases)
    func watchOfAPrefixSeesOnlyItsSubtree(backend: Backend) async throws {
        try await backend.withStore { store, root in
            let events = EventCollector(try await store.watch(.prefix("\(root)/tree/")))
            try await store.put("\(root)/tree", value: "the node itself".bytes)
            try await store.put("\(root)/treehouse", value: "a sibling".bytes)
            try await store.put("\(root)/tree/a", value: "1".bytes)
            try await store.put("\(root)/tree/b/c", value: "2".bytes)
            try await store.delete("\(root)/tree/a")
            let seen = try await events.wait { $0.count >= 3 }
            #expect(seen.map(\.key) == ["\(root)/tree/a", "\(root)/tree/b/c", "\(root)/tree/a"])
            #expect(seen.map(\.kind) == [.put, .put, .delete])
            #expect(seen.map(\.version) == seen.map(\.version).sorted())
            events.stop()
        }
    }

    @Test(arguments: Backend.allCases)
    func everyWatchGetsEveryEvent(backend: Backend) async throws {
        try await backend.withStore { store, root in
            let first = EventCollector(try await store.watch(.prefix("\(root)/")))
            let second = EventCollector(try await store.watch(.prefix("\(root)/")))
            for index in 0..<50 {
                try await store.put("\(root)/k\(index % 5)", value: Array(String(index).utf8))
            }
            let a = try await first.wait { $0.count >= 50 }
            let b = try await second.wait { $0.count >= 50 }
            #expect(a == b)
            #expect(a.map { String(decoding: $0.value, as: UTF8.self) } == (0..<50).map(String.init))
        }
    }

    @Test(arguments: Backend.allCases)
    func concurrentCompareAndSetLosesNoUpdate(backend: Backend) async throws {
        try await backend.withStore { store, root in
            let key = "\(root)/shared-counter"
            try await store.put(key, value: "0".bytes)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        var done = 0
                        while done < 10 {
                            let current = try #require(try await store.get(key))
                            let value = Int(String(decoding: current.value, as: UTF8.self))! + 1
                            do {
                                try await store.put(key, value: Array(String(value).utf8), expecting: .version(current.version))
                                done += 1
                            } catch let error as MetadataError where error.code == .badVersion {
                                continue
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await store.get(key)?.value == "60".bytes)
        }
    }

    @Test(arguments: Backend.allCases)
    func idAllocatorIsUniqueAndIncreasing(backend: Backend) async throws {
        try await backend.withStore { store, root in
            let counter = "ids\(root.dropFirst())"
            let perTask = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        var ids: [Int64] = []
                        for _ in 0..<15 { ids.append(try await store.nextID(counter)) }
                        return ids
                    }
                }
                return try await group.reduce(into: [[Int64]]()) { $0.append($1) }
            }
            for ids in perTask {
                #expect(ids == ids.sorted() && Set(ids).count == ids.count, "increasing within a caller")
            }
            let all = perTask.flatMap { $0 }.sorted()
            #expect(all == Array(1...60), "unique, starting at 1, no gaps without failures")
            #expect(try await store.get("/counters/\(counter)")?.value == "60".bytes)
            try await store.delete("/counters/\(counter)")
        }
    }

    @Test(arguments: Backend.allCases)
    func closingTheStoreEndsItsWatchesWithAnError(backend: Backend) async throws {
        try await backend.withStore { store, root in
            let watch = try await store.watch(.prefix("\(root)/"))
            try await store.put("\(root)/k", value: [])
            let ended = Task {
                var received = 0
                do {
                    for try await _ in watch { received += 1 }
                    return (received, nil as MetadataError?)
                } catch let error as MetadataError {
                    return (received, error)
                } catch {
                    return (received, MetadataError(.invalidArgument, "unexpected \(error)"))
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            await store.close()
            let (received, error) = await ended.value
            #expect(received == 1)
            #expect(error?.code == .unavailable)
        }
    }

    @Test(arguments: Backend.allCases)
    func aClosedStoreSaysUnavailable(backend: Backend) async throws {
        try await backend.withStore { store, root in
            await store.close()
            let error = await metadataError { _ = try await store.get("\(root)/x") }
            #expect(error?.code == .unavailable)
        }
    }
}

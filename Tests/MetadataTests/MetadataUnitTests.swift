@testable import Metadata
import Testing

@Suite struct MetadataUnitTests {
    @Test func childNamesAreDistinctAndBytewiseSorted() {
        let keys = ["/p/a/x", "/p/a-b", "/p/a", "/p/a0", "/p/B", "/p/c/d/e"]
        #expect(MetadataKey.childNames(below: "/p", keys: keys) == ["B", "a", "a-b", "a0", "c"])
        #expect(MetadataKey.childNames(below: "/", keys: ["/x/y", "/z"]) == ["x", "z"])
    }

    @Test func prefixRangeEnd() {
        #expect(MetadataKey.rangeEnd(forPrefix: "/a/") == Array("/a0".utf8))
        #expect(MetadataKey.rangeEnd(forPrefix: "ab") == Array("ac".utf8))
        #expect(MetadataKey.rangeEnd(forPrefix: "a\u{7F}") == Array("a\u{7F}".utf8).dropLast() + [0x80])
    }

    @Test func etcdURLs() throws {
        let endpoints = try MetadataStoreURL.endpoints("h1:2379,10.0.0.2:2380", url: "etcd://…")
        #expect(endpoints.map(\.host) == ["h1", "10.0.0.2"])
        #expect(endpoints.map(\.port) == [2379, 2380])
        for bad in ["", "h1", "h1:", ":2379", "h1:99999", "h1:2379,", "h1:x"] {
            #expect(throws: MetadataError.self, "\(bad)") { try MetadataStoreURL.endpoints(bad, url: bad) }
        }
    }

    @Test func unknownURLSchemesAreRejected() async {
        for url in ["", "zookeeper://h:2181", "sqlite:", "etcd://"] {
            let error = await metadataError { _ = try await MetadataStoreURL.open(url, logger: testLogger) }
            #expect(error?.code == .invalidArgument, "\(url)")
        }
    }

    @Test func expectations() throws {
        #expect(throws: Never.self) { try Expectation.any.check("/k", current: nil) }
        #expect(throws: Never.self) { try Expectation.absent.check("/k", current: nil) }
        #expect(throws: MetadataError.alreadyExists("/k")) { try Expectation.absent.check("/k", current: 3) }
        #expect(throws: MetadataError.notFound("/k")) { try Expectation.version(3).check("/k", current: nil) }
        #expect(throws: MetadataError.badVersion("/k", expected: 3, actual: 4)) { try Expectation.version(3).check("/k", current: 4) }
    }
}

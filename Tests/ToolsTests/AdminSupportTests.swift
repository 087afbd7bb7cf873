import ClusterTesting
import Foundation
import Testing

@testable import magnetar

/// The admin tool's sizes and times, its configuration file and how it prints answers.
@Suite struct AdminSupportTests {
    @Test func sizesParseLikePulsarAdmin() throws {
        let cases: [(String, Int64)] = [
            ("4096", 4096), ("0", 0), ("-1", -1), ("500K", 512_000), ("500k", 512_000), ("10M", 10 << 20), ("1G", 1 << 30),
            ("3t", 3 << 40),
        ]
        for (text, bytes) in cases { #expect(try ByteSize(parsing: text).bytes == bytes, "\(text)") }
        for bad in ["", "M", "10X", "1.5G", "10MB", " 10M", "99999999999T"] {
            #expect(throws: AdminError.self, "\(bad)") { try ByteSize(parsing: bad) }
        }
        #expect(try ByteSize(parsing: "10M").megabytes == 10)
        #expect(try ByteSize(parsing: "500K").megabytes == 0)
        #expect(try ByteSize(parsing: "-1").megabytes == -1)
        #expect(ByteSize(argument: "nope") == nil)
    }

    @Test func timesParseLikePulsarAdmin() throws {
        let cases: [(String, Int64)] = [
            ("120", 120), ("-1", -1), ("30s", 30), ("10m", 600), ("3h", 10_800), ("2d", 172_800), ("1w", 604_800), ("1y", 31_536_000),
        ]
        for (text, seconds) in cases { #expect(try RelativeTime(parsing: text).seconds == seconds, "\(text)") }
        for bad in ["", "m", "10M", "10x", "1.5h", "h10", "9999999999999999y"] {
            #expect(throws: AdminError.self, "\(bad)") { try RelativeTime(parsing: bad) }
        }
        #expect(try RelativeTime(parsing: "120").minutes == 2)
        #expect(try RelativeTime(parsing: "3h").minutes == 180)
        #expect(try RelativeTime(parsing: "-1").minutes == -1)
    }

    @Test func contextsRoundTripThroughTheFile() throws {
        let directory = try TemporaryDirectory(label: "admin-config")
        defer { directory.remove() }
        #expect(AdminConfig.path(environment: ["MAGNETAR_CONFIG": "/x/c.json", "HOME": "/home/u"]) == "/x/c.json")
        #expect(AdminConfig.path(environment: ["HOME": "/home/u"]) == "/home/u/.config/magnetar/config.json")

        let path = directory.file("nested/dir/config.json")
        let empty = try AdminConfig.load(from: path)
        #expect(empty == AdminConfig())
        #expect(try empty.adminURL(explicit: nil, context: nil) == "http://localhost:8080")

        var config = empty
        config.contexts["prod"] = .init(adminURL: "http://prod:8080")
        config.contexts["dev"] = .init(adminURL: "http://dev:8080")
        config.current = "prod"
        try config.save(to: path)
        #expect(try AdminConfig.load(from: path) == config)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains(#""adminURL" : "http://dev:8080""#) || text.contains(#""adminURL": "http://dev:8080""#), "\(text)")
        #expect(text.range(of: "\"dev\"")!.lowerBound < text.range(of: "\"prod\"")!.lowerBound, "sorted keys: \(text)")

        #expect(try config.adminURL(explicit: nil, context: nil) == "http://prod:8080")
        #expect(try config.adminURL(explicit: nil, context: "dev") == "http://dev:8080")
        #expect(try config.adminURL(explicit: "http://x:1", context: "dev") == "http://x:1")
        #expect(throws: AdminError.self) { try config.adminURL(explicit: nil, context: "staging") }

        try "{not json".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: AdminError.self) { try AdminConfig.load(from: path) }
    }

    @Test func jsonOutputIsPrettyAndStable() throws {
        let body = Array(#"{"zeta":1,"alpha":{"b":[1,2],"a":"x/y"},"mid":true}"#.utf8)
        let first = try #require(AdminOutput.render(body, format: .json, confirmation: nil))
        let reordered = Array(#"{"mid":true,"alpha":{"a":"x/y","b":[1,2]},"zeta":1}"#.utf8)
        #expect(AdminOutput.render(reordered, format: .json, confirmation: nil) == first)
        #expect(first.contains("\n  "), "indented: \(first)")
        let keys = ["\"alpha\"", "\"a\"", "\"b\"", "\"mid\"", "\"zeta\""].map { first.range(of: $0)!.lowerBound }
        #expect(keys == keys.sorted(), "sorted keys: \(first)")
        #expect(first.contains("x/y") && first.contains("true"))
        let back = try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any]
        #expect(back?["zeta"] as? Int == 1)

        #expect(AdminOutput.render([], format: .json, confirmation: "created x") == nil)
        #expect(AdminOutput.render(Array("ok".utf8), format: .json, confirmation: nil) == #""ok""#)
        #expect(AdminOutput.render(Array("3".utf8), format: .json, confirmation: nil) == "3")
    }

    @Test func textOutput() {
        func text(_ json: String, confirmation: String? = nil) -> String? {
            AdminOutput.render(Array(json.utf8), format: .text, confirmation: confirmation)
        }
        #expect(text(#"["public/default","public/ops"]"#) == "public/default\npublic/ops")
        #expect(text(#"{"partitions":3}"#) == "partitions: 3")
        #expect(text(#"{"b":"x","a":false}"#) == "a: false\nb: x")
        #expect(text(#""lz4""#) == "lz4")
        #expect(text("ok") == "ok")
        #expect(text("", confirmation: "created persistent://public/default/t") == "created persistent://public/default/t")
        #expect(text(" \n") == nil)
        let nested = text(#"{"numBundles":2,"boundaries":["0x00000000","0x80000000","0xffffffff"]}"#)
        #expect(nested?.hasPrefix("{\n") == true && nested?.contains("\"numBundles\"") == true)
        #expect(text(#"[{"b":1,"a":2}]"#) == #"{"a":2,"b":1}"#)
        let bookies = #"{"bookies":[{"bookieId":"127.0.0.1:3181"},{"bookieId":"127.0.0.1:3182"}]}"#
        let listed = AdminOutput.render(Array(bookies.utf8), format: .text, confirmation: nil) {
            ((($0 as? [String: Any])?["bookies"] as? [[String: Any]]) ?? []).compactMap { $0["bookieId"] as? String }
        }
        #expect(listed == "127.0.0.1:3181\n127.0.0.1:3182")
    }

    @Test func messagesShowIDHeadersAndPayload() throws {
        let headers = [(name: "X-Pulsar-Message-ID", value: "12:3"), (name: "X-Pulsar-publish-time", value: "2026-01-01"), (name: "Content-Length", value: "5")]
        let text = AdminOutput.messages([(headers, Array("hello".utf8))], format: .text)
        #expect(text == "Message ID: 12:3\nX-Pulsar-publish-time: 2026-01-01\n\nhello")
        let json = AdminOutput.messages([(headers, Array("hello".utf8))], format: .json)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(parsed.first?["messageId"] as? String == "12:3" && parsed.first?["payload"] as? String == "hello")
    }

    @Test func errorsCarryTheirExitStatus() {
        #expect(AdminError(.rejected, "no", httpStatus: 409).exitStatus == 1)
        #expect(AdminError(.invalidArgument, "bad").exitStatus == 2)
        #expect(AdminError(.unreachable, "down").exitStatus == 3)
        #expect(AdminError(.configuration, "file").exitStatus == 1)
    }
}

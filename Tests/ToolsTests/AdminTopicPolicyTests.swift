import ArgumentParser
import Testing

@testable import magnetar

/// `magnetar admin topics` verbs for a topic's own policies, and the requests they build.
@Suite struct AdminTopicPolicyTests {
    @Test func topicPolicies() throws {
        let topic = "/admin/v2/persistent/acme/orders/payments"
        let name = "persistent://acme/orders/payments"
        try AdminCommandTests.check(
            ["topics", "set-retention", name, "--time", "2d", "--size", "1G"], "POST", "\(topic)/retention",
            body: #"{"retentionSizeInMB":1024,"retentionTimeInMinutes":2880}"#
        )
        try AdminCommandTests.check(["topics", "get-retention", name], "GET", "\(topic)/retention")
        try AdminCommandTests.check(["topics", "remove-retention", name], "DELETE", "\(topic)/retention")
        try AdminCommandTests.check(["topics", "set-message-ttl", name, "-t", "1h"], "POST", "\(topic)/messageTTL?messageTTL=3600")
        try AdminCommandTests.check(["topics", "get-message-ttl", name], "GET", "\(topic)/messageTTL")
        try AdminCommandTests.check(["topics", "remove-message-ttl", name], "DELETE", "\(topic)/messageTTL")
        try AdminCommandTests.check(["topics", "set-deduplication", name, "--enable"], "POST", "\(topic)/deduplicationEnabled", body: "true")
        try AdminCommandTests.check(["topics", "set-deduplication", name, "-d"], "POST", "\(topic)/deduplicationEnabled", body: "false")
        try AdminCommandTests.check(["topics", "get-deduplication", name], "GET", "\(topic)/deduplicationEnabled")
        try AdminCommandTests.check(["topics", "remove-deduplication", name], "DELETE", "\(topic)/deduplicationEnabled")
        try AdminCommandTests.check(
            ["topics", "set-backlog-quota", name, "-l", "1M", "-p", "producer_exception"], "POST",
            "\(topic)/backlogQuota?backlogQuotaType=destination_storage", body: #"{"limitSize":1048576,"limitTime":-1,"policy":"producer_exception"}"#
        )
        try AdminCommandTests.check(["topics", "get-backlog-quotas", name], "GET", "\(topic)/backlogQuotaMap")
        try AdminCommandTests.check(
            ["topics", "remove-backlog-quota", name, "-t", "message_age"], "DELETE", "\(topic)/backlogQuota?backlogQuotaType=message_age"
        )
        // Bad arguments never reach a broker.
        #expect(throws: AdminError.self) { try AdminCommandTests.request(["topics", "set-backlog-quota", name, "-p", "producer_exception"]) }
        #expect(throws: (any Error).self) { try Magnetar.parseAsRoot(["admin", "topics", "set-deduplication", name]) }
        #expect(throws: (any Error).self) { try AdminCommandTests.request(["topics", "set-message-ttl", name, "--ttl=-5"]) }
    }
}

/// One call of Pulsar's admin REST API, built from a parsed `magnetar admin` command
/// without any I/O, so that the mapping from command to request can be tested alone.
///
/// `path` is absolute from the server's root (`/admin/v2/…` or `/lookup/v2/…`), its
/// segments already percent-encoded; `query` is sent sorted by name.
struct AdminRequest: Equatable, Sendable, CustomStringConvertible {
    var method: String
    var path: String
    var query: [String: String]
    var body: AdminJSON?

    init(_ method: String, _ path: String, query: [String: String] = [:], body: AdminJSON? = nil) {
        self.method = method
        self.path = path
        self.query = query
        self.body = body
    }

    static func get(_ path: String, query: [String: String] = [:]) -> Self { Self("GET", path, query: query) }
    static func put(_ path: String, query: [String: String] = [:], body: AdminJSON? = nil) -> Self {
        Self("PUT", path, query: query, body: body)
    }
    static func post(_ path: String, query: [String: String] = [:], body: AdminJSON? = nil) -> Self {
        Self("POST", path, query: query, body: body)
    }
    static func delete(_ path: String, query: [String: String] = [:]) -> Self { Self("DELETE", path, query: query) }

    /// The path and query, e.g. `/admin/v2/tenants/t?force=true`.
    var target: String {
        guard !self.query.isEmpty else { return self.path }
        let pairs = self.query.keys.sorted().map { "\(Self.encode($0))=\(Self.encode(self.query[$0]!))" }
        return self.path + "?" + pairs.joined(separator: "&")
    }

    /// The URL of this request on the server at `base` (`http://host:port`, a trailing
    /// slash ignored).
    func url(base: String) -> String {
        var base = Substring(base)
        while base.hasSuffix("/") { base = base.dropLast() }
        return base + self.target
    }

    var description: String { "\(self.method) \(self.target)" + (self.body.map { " \($0.text)" } ?? "") }

    /// `text` as one path segment: percent-encoded but for RFC 3986's unreserved
    /// characters and `:@!$'()*+,;=` (so `host:port` stays as it is).
    static func segment(_ text: String) -> String { Self.encode(text, keeping: ":@!$'()*+,;=") }

    /// Percent-encodes everything but RFC 3986's unreserved characters and `keeping`, so
    /// that a value fits in a query value (or, with more kept, a path segment).
    static func encode(_ text: String, keeping: String = "") -> String {
        var output = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            case _ where keeping.utf8.contains(byte):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                output += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return output
    }
}

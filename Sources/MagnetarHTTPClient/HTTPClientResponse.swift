/// A complete HTTP response as ``HTTPClient`` received it: status, headers in the order
/// sent, and the whole body (at most ``HTTPClient/maxResponseBodySize`` bytes).
public struct HTTPClientResponse: Sendable {
    /// The status code, e.g. 200 or 307.
    public var status: Int
    /// The header fields as received, names in the case the server wrote them.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The value of the first header named `name`, compared without regard to case.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return self.headers.first { $0.name.lowercased() == wanted }?.value
    }
}

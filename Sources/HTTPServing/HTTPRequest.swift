public import NIOCore
public import NIOHTTP1

/// One complete HTTP request as a handler sees it: the body is fully received (and no
/// larger than the server's limit), the target is split into path and decoded query.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The path as sent, without the query and not percent-decoded (so an encoded `/`
    /// stays inside its segment); ``parameters`` hold decoded segment values.
    public var path: String
    /// Query parameters, percent-decoded (`+` is a space); a repeated name keeps its last value.
    public var query: [String: String]
    public var headers: HTTPHeaders
    public var body: ByteBuffer
    /// Values of the route's `{name}` segments, filled in by ``HTTPRouter``.
    public var parameters: [String: String]

    public init(
        method: HTTPMethod,
        path: String,
        query: [String: String] = [:],
        headers: HTTPHeaders = [:],
        body: ByteBuffer = ByteBuffer(),
        parameters: [String: String] = [:]
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.parameters = parameters
    }

    /// Splits `head.uri` (origin form: `/path?query`) into path and query.
    init(head: HTTPRequestHead, body: ByteBuffer) {
        let target = head.uri.utf8
        let pathEnd = target.firstIndex(of: UInt8(ascii: "?")) ?? target.endIndex
        var query: [String: String] = [:]
        if pathEnd != target.endIndex {
            for pair in target[target.index(after: pathEnd)...].split(separator: UInt8(ascii: "&")) {
                let equals = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex
                let value = equals == pair.endIndex ? pair[equals...] : pair[pair.index(after: equals)...]
                query[Self.percentDecoded(pair[..<equals], plusIsSpace: true)] = Self.percentDecoded(value, plusIsSpace: true)
            }
        }
        self.init(
            method: head.method,
            path: String(Substring(target[..<pathEnd])),
            query: query,
            headers: head.headers,
            body: body
        )
    }

    /// Decodes `%XX` escapes; a malformed escape is kept as it is.
    static func percentDecoded(_ text: Substring.UTF8View, plusIsSpace: Bool) -> String {
        guard text.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) else {
            return String(Substring(text))
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count)
        var index = text.startIndex
        while index != text.endIndex {
            let byte = text[index]
            index = text.index(after: index)
            if byte == UInt8(ascii: "+") && plusIsSpace {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), text.distance(from: index, to: text.endIndex) >= 2,
                let high = Self.hexValue(text[index]), let low = Self.hexValue(text[text.index(after: index)])
            {
                bytes.append(high << 4 | low)
                index = text.index(index, offsetBy: 2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

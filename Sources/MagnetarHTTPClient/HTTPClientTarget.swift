/// Where an ``HTTPClient`` request goes, parsed from an `http://host[:port][/path][?query]`
/// URL.
///
/// Only plain `http` is accepted (the scheme in any case); the host may be a name, an
/// IPv4 address or a bracketed IPv6 address, the port defaults to 80, and a fragment is
/// dropped. A URL with user information, an empty host, a bad port, or whitespace or
/// control characters anywhere is refused, so the request line can always be written.
struct HTTPClientTarget: Hashable, Sendable {
    /// The host to connect to, without IPv6 brackets.
    var host: String
    var port: Int
    /// The `Host` header: the URL's authority as written.
    var authority: String
    /// The request target: the path (at least `/`) and the query.
    var pathAndQuery: String

    init(url: String) throws(HTTPClientError) {
        if url.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
            throw Self.invalid(url, "it contains whitespace or control characters")
        }
        let lowered = url.lowercased()
        if lowered.hasPrefix("https://") { throw Self.invalid(url, "https is not supported") }
        guard lowered.hasPrefix("http://") else { throw Self.invalid(url, "it does not start with http://") }
        var rest = url.dropFirst("http://".count)
        if let fragment = rest.firstIndex(of: "#") { rest = rest[..<fragment] }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let target = rest[authorityEnd...]
        guard !authority.isEmpty, !authority.contains("@") else {
            throw Self.invalid(url, "it needs a host and no user information")
        }
        let hostPart: Substring
        let portPart: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw Self.invalid(url, "an IPv6 address lacks its ]") }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else { throw Self.invalid(url, "text follows the IPv6 address") }
            portPart = after.isEmpty ? nil : after.dropFirst()
        } else if let colon = authority.firstIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        } else {
            hostPart = authority
            portPart = nil
        }
        guard !hostPart.isEmpty else { throw Self.invalid(url, "the host is empty") }
        var port = 80
        if let portPart, !portPart.isEmpty {
            guard portPart.utf8.count <= 5, portPart.allSatisfy(\.isASCIIDigit), let number = Int(portPart), (1...65535).contains(number)
            else { throw Self.invalid(url, "the port must be 1...65535") }
            port = number
        }
        self.host = String(hostPart)
        self.port = port
        self.authority = String(authority)
        self.pathAndQuery = target.hasPrefix("/") ? String(target) : "/" + target
    }

    private static func invalid(_ url: String, _ reason: String) -> HTTPClientError {
        HTTPClientError(.invalidURL, "cannot request '\(url)': \(reason)")
    }
}

extension Character {
    /// Whether this is one of the ASCII digits 0 through 9.
    fileprivate var isASCIIDigit: Bool { self.isASCII && self.isNumber }
}

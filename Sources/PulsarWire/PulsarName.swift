/// Pulsar's rule for the names of tenants, namespaces, clusters, topics and
/// subscriptions: one or more of `-`, `=`, `:`, `.`, `_`, ASCII letters and digits, and
/// neither `.` nor `..` (which would read as paths). Names from clients, REST paths and
/// bodies are checked with it where they enter.
public enum PulsarName {
    /// The longest name taken, in bytes: far above any real one, and it bounds the
    /// metadata keys made of names.
    public static let maxLength = 1024

    /// Whether `name` follows the rule.
    public static func isValid(_ name: some StringProtocol) -> Bool {
        let bytes = name.utf8
        guard !bytes.isEmpty, bytes.count <= Self.maxLength, name != ".", name != ".." else { return false }
        return bytes.allSatisfy(Self.isAllowed)
    }

    /// Why `name` is not a valid name of `kind` ("tenant", "topic", …), or nil.
    public static func refusal(_ name: some StringProtocol, kind: String) -> String? {
        if Self.isValid(name) { return nil }
        let shown = String(name.prefix(100)).debugDescription
        return "\(shown) is not a valid \(kind) name: use letters, digits and - _ = : . (not . or ..), at most \(Self.maxLength) bytes"
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "-"), UInt8(ascii: "="), UInt8(ascii: ":"), UInt8(ascii: "."), UInt8(ascii: "_"): true
        default: false
        }
    }
}

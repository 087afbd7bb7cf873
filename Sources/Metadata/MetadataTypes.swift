/// A value read from the store with the version it was written at.
///
/// Versions are the store's global revision of the write that produced the value: they
/// increase with every change anywhere in the store, so a later write always has a larger
/// version, and a compare-and-set names the exact write it builds on.
public struct Versioned: Hashable, Sendable {
    public var value: [UInt8]
    public var version: Int64
    /// The session the key is bound to, when it is ephemeral.
    public var session: Int64?

    public init(value: [UInt8], version: Int64, session: Int64? = nil) {
        self.value = value
        self.version = version
        self.session = session
    }
}

/// The condition a write or delete requires of the key's current state.
public enum Expectation: Hashable, Sendable {
    /// Apply whatever the key's state.
    case any
    /// Apply only if the key does not exist (`alreadyExists` otherwise).
    case absent
    /// Apply only if the key exists at exactly this version (`badVersion` or `notFound` otherwise).
    case version(Int64)
}

extension Expectation {
    /// Throws the error a write under this expectation meets when the key is at `current`
    /// (`nil`: absent).
    func check(_ key: String, current: Int64?) throws(MetadataError) {
        switch (self, current) {
        case (.any, _), (.absent, nil):
            return
        case (.absent, .some):
            throw MetadataError.alreadyExists(key)
        case (.version, nil):
            throw MetadataError.notFound(key)
        case (.version(let expected), .some(let actual)):
            if expected != actual { throw MetadataError.badVersion(key, expected: expected, actual: actual) }
        }
    }

    /// Like ``check(_:current:)`` for a delete, which needs the key to exist.
    func checkDelete(_ key: String, current: Int64?) throws(MetadataError) {
        guard self != .absent else {
            throw MetadataError(.invalidArgument, "a delete of \(key) cannot expect the key to be absent")
        }
        guard current != nil else { throw MetadataError.notFound(key) }
        try self.check(key, current: current)
    }
}

/// A lease that keeps ephemeral keys alive. Keys put with a session are deleted when the
/// session is closed or when no keep-alive reaches the store for `ttl`.
public struct MetadataSession: Hashable, Sendable {
    public var id: Int64
    public var ttl: Duration

    public init(id: Int64, ttl: Duration) {
        self.id = id
        self.ttl = ttl
    }
}

/// What a watch observes: one key, or every key starting with a string.
public enum WatchScope: Hashable, Sendable {
    case key(String)
    /// Every key whose text begins with this string (use a trailing `/` for a subtree).
    case prefix(String)

    func matches(_ key: String) -> Bool {
        switch self {
        case .key(let watched): key == watched
        case .prefix(let prefix): key.hasPrefix(prefix)
        }
    }
}

/// One change seen by a watch.
public struct MetadataEvent: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case put
        case delete
    }

    public var kind: Kind
    public var key: String
    /// The new value for a put; empty for a delete.
    public var value: [UInt8]
    /// The store revision of the change.
    public var version: Int64

    public init(kind: Kind, key: String, value: [UInt8], version: Int64) {
        self.kind = kind
        self.key = key
        self.value = value
        self.version = version
    }
}

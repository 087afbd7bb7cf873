/// Rules for metadata keys: absolute, `/`-separated, no empty components, no trailing `/`.
enum MetadataKey {
    /// Throws `invalidArgument` unless `key` is a valid key.
    static func validate(_ key: String) throws(MetadataError) {
        guard key.first == "/", key.count > 1 else {
            throw MetadataError(.invalidArgument, "key '\(key)' must start with '/' and name something")
        }
        guard !key.hasSuffix("/"), !key.contains("//") else {
            throw MetadataError(.invalidArgument, "key '\(key)' has an empty path component")
        }
        guard !key.utf8.contains(0) else {
            throw MetadataError(.invalidArgument, "key '\(key)' contains a NUL byte")
        }
    }

    /// Throws `invalidArgument` unless `path` is `/` or a valid key.
    static func validatePath(_ path: String) throws(MetadataError) {
        if path != "/" { try self.validate(path) }
    }

    /// The prefix shared by every key below `path`.
    static func childPrefix(_ path: String) -> String {
        path == "/" ? "/" : path + "/"
    }

    /// The sorted, distinct names directly below `path`, given keys that all start with
    /// `childPrefix(path)`.
    static func childNames(below path: String, keys: some Sequence<String>) -> [String] {
        let prefixLength = self.childPrefix(path).utf8.count
        var names = Set<String>()
        for key in keys {
            let rest = key.utf8.dropFirst(prefixLength)
            let name = rest.split(separator: UInt8(ascii: "/"), maxSplits: 1, omittingEmptySubsequences: false).first
            if let name, !name.isEmpty {
                names.insert(String(decoding: name, as: UTF8.self))
            }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// The exclusive end of the key range holding every key that starts with `prefix`.
    static func rangeEnd(forPrefix prefix: String) -> [UInt8] {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return bytes
            }
            bytes.removeLast()
        }
        return [0]  // etcd's "every key from here on".
    }
}

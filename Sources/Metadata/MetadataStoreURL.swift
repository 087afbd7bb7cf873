public import Logging

/// Opens a metadata store from the URL that every Magnetar process takes as `--metadata-url`.
///
/// - `memory:` — a new in-process store (tests only: nothing is shared or kept);
/// - `sqlite:<path>` — the embedded store in the file at `<path>`;
/// - `etcd://host:port[,host:port…]` — an etcd cluster.
public enum MetadataStoreURL {
    /// Opens the store named by `url`; throws `invalidArgument` for a URL it cannot read.
    public static func open(_ url: String, logger: Logger) async throws -> any MetadataStore {
        if url == "memory:" || url == "memory://" {
            return MemoryMetadataStore()
        }
        if url.hasPrefix("sqlite:") {
            var path = String(url.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty else {
                throw MetadataError(.invalidArgument, "'\(url)' names no file; use sqlite:<path>")
            }
            return try await SQLiteMetadataStore.open(.init(path: path), logger: logger)
        }
        if url.hasPrefix("etcd://") {
            let endpoints = try self.endpoints(String(url.dropFirst("etcd://".count)), url: url)
            return try EtcdMetadataStore.connect(.init(endpoints: endpoints), logger: logger)
        }
        throw MetadataError(.invalidArgument, "unknown metadata URL '\(url)': use memory:, sqlite:<path> or etcd://host:port[,host:port…]")
    }

    static func endpoints(_ list: String, url: String) throws(MetadataError) -> [(host: String, port: Int)] {
        let trimmed = list.hasSuffix("/") ? String(list.dropLast()) : list
        var endpoints: [(host: String, port: Int)] = []
        for item in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            guard let colon = item.lastIndex(of: ":"),
                let port = Int(item[item.index(after: colon)...]), (1...65_535).contains(port),
                colon > item.startIndex
            else {
                throw MetadataError(.invalidArgument, "'\(item)' in '\(url)' is not host:port")
            }
            endpoints.append((String(item[..<colon]), port))
        }
        return endpoints
    }
}

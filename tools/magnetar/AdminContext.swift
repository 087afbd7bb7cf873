import Foundation

/// The `magnetar admin` configuration file: named contexts, each an admin URL, and the
/// current one — `{"current":"prod","contexts":{"prod":{"adminURL":"http://…"}}}`.
///
/// It lives at `$MAGNETAR_CONFIG`, else `~/.config/magnetar/config.json`. A missing file
/// reads as no contexts; writes replace the file atomically, pretty-printed with sorted
/// keys, creating its directory.
struct AdminConfig: Codable, Equatable, Sendable {
    /// One named server.
    struct Context: Codable, Equatable, Sendable {
        var adminURL: String
    }

    var current: String?
    var contexts: [String: Context] = [:]

    /// The admin URL used when neither `--admin-url` nor a context gives one.
    static let defaultAdminURL = "http://localhost:8080"

    /// The file's path for `environment`: `MAGNETAR_CONFIG`, else
    /// `$HOME/.config/magnetar/config.json`.
    static func path(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let path = environment["MAGNETAR_CONFIG"], !path.isEmpty { return path }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.config/magnetar/config.json"
    }

    /// Reads the file at `path`; no file is an empty configuration.
    static func load(from path: String) throws(AdminError) -> AdminConfig {
        guard FileManager.default.fileExists(atPath: path) else { return AdminConfig() }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            return try JSONDecoder().decode(AdminConfig.self, from: data)
        } catch {
            throw AdminError(.configuration, "cannot read the configuration file \(path)", cause: error)
        }
    }

    /// Writes the configuration to `path`, replacing the file atomically.
    func save(to path: String) throws(AdminError) {
        do {
            let url = URL(fileURLWithPath: path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try (encoder.encode(self) + Data("\n".utf8)).write(to: url, options: .atomic)
        } catch {
            throw AdminError(.configuration, "cannot write the configuration file \(path)", cause: error)
        }
    }

    /// The admin URL to use: `explicit` if given, else context `name`'s (which must
    /// exist), else the current context's, else ``defaultAdminURL``.
    func adminURL(explicit: String?, context name: String?) throws(AdminError) -> String {
        if let explicit { return explicit }
        if let name {
            guard let context = self.contexts[name] else { throw AdminError(.configuration, "there is no context '\(name)'") }
            return context.adminURL
        }
        if let current = self.current, let context = self.contexts[current] { return context.adminURL }
        return Self.defaultAdminURL
    }
}

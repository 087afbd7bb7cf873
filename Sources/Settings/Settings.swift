import Foundation

/// A process's settings, each looked up in its flags, then the environment, then a
/// configuration file, then its default.
///
/// The file holds `name = value` lines with `#` comments, named like the flags without
/// their dashes (`journal-dir = /var/lib/bookie/journal`). The environment variable of a
/// setting is the prefix and the name in capitals with `_` for `-`
/// (`MAGNETAR_BOOKIE_JOURNAL_DIR`). A name the process does not know is an error, so a
/// misspelt setting never goes unnoticed.
public struct Settings: Sendable {
    /// Why settings could not be read.
    public struct Problem: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    private let file: [String: String]
    private let environment: [String: String]
    private let environmentPrefix: String

    /// Reads the file (if any) and checks that every name in it and every variable with
    /// the prefix is in `known`. `environment` is the process's unless given.
    public init(
        file: String?,
        environmentPrefix: String,
        known: Set<String>,
        environment: [String: String]? = nil
    ) throws(Problem) {
        let environment = environment ?? ProcessInfo.processInfo.environment
        self.environmentPrefix = environmentPrefix
        self.environment = environment
        var values: [String: String] = [:]
        if let file {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw Problem(description: "cannot read the configuration file \(file): \(error.localizedDescription)")
            }
            for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0].trimmingCharacters(in: .whitespaces)
                if line.isEmpty { continue }
                guard let equals = line.firstIndex(of: "=") else {
                    throw Problem(description: "\(file):\(number + 1): expected 'name = value', got '\(line)'")
                }
                let name = line[..<equals].trimmingCharacters(in: .whitespaces)
                guard known.contains(name) else {
                    throw Problem(description: "\(file):\(number + 1): unknown setting '\(name)'")
                }
                values[name] = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            }
        }
        self.file = values
        let knownVariables = Set(known.map { Self.variable(for: $0, prefix: environmentPrefix) })
        if let unknown = environment.keys.sorted().first(where: { $0.hasPrefix(environmentPrefix) && !knownVariables.contains($0) }) {
            throw Problem(description: "unknown setting in the environment: \(unknown)")
        }
    }

    /// The environment variable that holds a setting.
    public static func variable(for name: String, prefix: String) -> String {
        prefix + name.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// The setting's value: `flag` if given, else the environment's, else the file's.
    public func string(_ name: String, flag: String?) -> String? {
        flag ?? self.environment[Self.variable(for: name, prefix: self.environmentPrefix)] ?? self.file[name]
    }

    /// Like ``string(_:flag:)``, failing with a message naming every place it could come from.
    public func required(_ name: String, flag: String?) throws(Problem) -> String {
        guard let value = self.string(name, flag: flag) else {
            throw Problem(
                description: "missing --\(name): give the flag, \(Self.variable(for: name, prefix: self.environmentPrefix)) or '\(name) =' in a --config file"
            )
        }
        return value
    }

    /// A setting parsed by `parse` (which returns nil for a bad value), or `fallback`.
    public func value<T>(_ name: String, flag: String?, default fallback: T, _ parse: (String) -> T?) throws(Problem) -> T {
        guard let text = self.string(name, flag: flag) else { return fallback }
        guard let value = parse(text) else {
            throw Problem(description: "bad value '\(text)' for \(name)")
        }
        return value
    }

    /// A true/false setting.
    public func bool(_ name: String, flag: String?, default fallback: Bool) throws(Problem) -> Bool {
        try self.value(name, flag: flag, default: fallback) { text in
            switch text.lowercased() {
            case "true", "yes", "1": true
            case "false", "no", "0": false
            default: nil
            }
        }
    }
}

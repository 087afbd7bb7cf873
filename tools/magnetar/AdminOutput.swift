import ArgumentParser
import Foundation

/// How `magnetar admin` prints what the server answered; pure functions of the answer.
///
/// `--output json` re-encodes the server's JSON pretty-printed with sorted keys (a
/// non-JSON answer becomes a JSON string) and prints nothing for an empty answer.
/// `--output text` prints a list one item per line, a flat object as sorted `key: value`
/// lines, a nested object as the pretty JSON, a single value as it is, and for an empty
/// answer the command's confirmation (e.g. `created persistent://public/default/t`).
enum AdminOutput {
    enum Format: String, CaseIterable, Sendable, ExpressibleByArgument {
        case text
        case json
    }

    /// What to print for `body` (nil: nothing). `lines` may replace the text rendering
    /// of a JSON answer, e.g. to list only the ids of the objects it holds.
    static func render(_ body: [UInt8], format: Format, confirmation: String?, lines: ((Any) -> [String]?)? = nil) -> String? {
        let text = String(decoding: body, as: UTF8.self)
        guard !text.allSatisfy(\.isWhitespace) else { return format == .text ? confirmation : nil }
        guard let value = try? JSONSerialization.jsonObject(with: Data(body), options: .fragmentsAllowed) else {
            return format == .json ? Self.pretty(text) : text
        }
        switch format {
        case .json: return Self.pretty(value)
        case .text: return (lines?(value) ?? Self.lines(value)).joined(separator: "\n")
        }
    }

    /// The text rendering of a JSON value: see ``AdminOutput``.
    static func lines(_ value: Any) -> [String] {
        if let array = value as? [Any] { return array.map(Self.scalar) }
        if let object = value as? [String: Any] {
            let nested = object.values.contains { $0 is [Any] || $0 is [String: Any] }
            if nested { return [Self.pretty(value)] }
            return object.keys.sorted().map { "\($0): \(Self.scalar(object[$0]!))" }
        }
        return [Self.scalar(value)]
    }

    /// A string as it is; anything else as compact JSON with sorted keys.
    static func scalar(_ value: Any) -> String {
        if let string = value as? String { return string }
        return Self.encode(value, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])
    }

    /// Pretty-printed JSON with sorted keys.
    static func pretty(_ value: Any) -> String {
        Self.encode(value, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])
    }

    private static func encode(_ value: Any, options: JSONSerialization.WritingOptions) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: options) else { return "\(value)" }
        return String(decoding: data, as: UTF8.self)
    }

    /// A message as the peek and examine routes answer it: the id in
    /// `X-Pulsar-Message-ID`, other `X-Pulsar-…` headers (publish time, properties), and
    /// the payload as the body (read as UTF-8). JSON output shows `messages` as an array
    /// of objects with `messageId`, `headers` and `payload`; text output shows each as
    /// `Message ID: …`, its headers, a blank line and the payload.
    static func messages(_ messages: [(headers: [(name: String, value: String)], body: [UInt8])], format: Format) -> String {
        var objects: [[String: Any]] = []
        var texts: [String] = []
        for message in messages {
            let id = message.headers.first { $0.name.lowercased() == "x-pulsar-message-id" }?.value ?? "?"
            let others = message.headers.filter {
                $0.name.lowercased().hasPrefix("x-pulsar-") && $0.name.lowercased() != "x-pulsar-message-id"
            }
            let payload = String(decoding: message.body, as: UTF8.self)
            var fields: [String: String] = [:]
            for header in others { fields[header.name] = header.value }
            objects.append(["messageId": id, "headers": fields, "payload": payload])
            texts.append((["Message ID: \(id)"] + others.map { "\($0.name): \($0.value)" } + ["", payload]).joined(separator: "\n"))
        }
        return format == .json ? Self.pretty(objects) : texts.joined(separator: "\n\n")
    }
}

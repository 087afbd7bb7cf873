import Foundation

/// A bookie's identity, written to each of its data directories and to the metadata store
/// (`/bookies/cookies/<id>`) when the bookie is first started.
///
/// At every start the copies are compared with each other and with the configuration, so
/// that a bookie never serves a directory that belongs to another bookie or another
/// incarnation of itself, and notices a directory that was emptied behind its back.
public struct Cookie: Codable, Hashable, Sendable {
    public var bookieID: String
    /// Random, chosen when the bookie is first formatted (a new one when none is given).
    public var instanceID: String
    public var journalDirectory: String
    public var ledgerDirectories: [String]
    /// Ledgers with ids up to this one may have lost entries on this bookie: it found a
    /// directory emptied when this was the highest ledger id allocated (0: never).
    public var unknownStateHorizon: UInt64

    public init(
        bookieID: String,
        instanceID: String? = nil,
        journalDirectory: String,
        ledgerDirectories: [String],
        unknownStateHorizon: UInt64 = 0
    ) {
        self.bookieID = bookieID
        self.instanceID = instanceID ?? UUID().uuidString
        self.journalDirectory = journalDirectory
        self.ledgerDirectories = ledgerDirectories
        self.unknownStateHorizon = unknownStateHorizon
    }

    /// The cookie's file in a data directory.
    public static func path(in directory: String) -> String {
        (directory as NSString).appendingPathComponent("COOKIE")
    }

    /// What each identifying field of `self` and `other` holds where they differ, or nil
    /// when they name the same bookie. The horizon is not compared: it only grows, and a
    /// copy written before a crash may lag.
    func differences(from other: Cookie, selfName: String, otherName: String) -> String? {
        var lines: [String] = []
        func compare(_ field: String, _ mine: String, _ theirs: String) {
            if mine != theirs { lines.append("\(field): \(selfName) has \(mine), \(otherName) has \(theirs)") }
        }
        compare("bookie id", self.bookieID, other.bookieID)
        compare("instance id", self.instanceID, other.instanceID)
        compare("journal directory", self.journalDirectory, other.journalDirectory)
        compare("ledger directories", self.ledgerDirectories.joined(separator: ","), other.ledgerDirectories.joined(separator: ","))
        return lines.isEmpty ? nil : lines.joined(separator: "; ")
    }
}

/// The cookie check a bookie makes at start.
public enum CookieCheck {
    /// What one data directory holds.
    public struct Directory: Sendable {
        public var path: String
        /// The cookie found there, if any.
        public var cookie: Cookie?
        /// Whether it holds anything besides a cookie.
        public var hasData: Bool

        public init(path: String, cookie: Cookie?, hasData: Bool) {
            self.path = path
            self.cookie = cookie
            self.hasData = hasData
        }
    }

    /// What the bookie does next.
    public enum Verdict: Equatable, Sendable {
        /// A new bookie (or one whose formatting was interrupted): write `cookie` to every
        /// directory and the metadata store.
        case format(Cookie)
        /// Everything matches; the cookie carries the highest horizon of all copies.
        case matches(Cookie)
        /// These directories were emptied: the bookie may have lost entries it
        /// acknowledged. Raise the horizon, write the cookie to the metadata store, then
        /// to every directory, before opening the storage.
        case dataLost(Cookie, emptied: [String])
    }

    /// Why a bookie refuses to start.
    public struct Mismatch: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Decides from the cookie in the metadata store (`registered`) and what the
    /// directories hold; throws ``Mismatch`` saying what differs when the bookie must not
    /// start.
    public static func verdict(expected: Cookie, registered: Cookie?, directories: [Directory]) throws(Mismatch) -> Verdict {
        let withCookie = directories.filter { $0.cookie != nil }
        guard var reference = registered ?? withCookie.first?.cookie else {
            if let used = directories.first(where: \.hasData) {
                throw Mismatch(
                    description: "\(used.path) holds data but no cookie, and the metadata store has no cookie for bookie \(expected.bookieID): refusing to format a directory in use"
                )
            }
            return .format(expected)
        }
        for directory in withCookie {
            if let difference = directory.cookie!.differences(from: reference, selfName: directory.path, otherName: registered == nil ? withCookie[0].path : "the metadata store") {
                throw Mismatch(description: "the cookie in \(directory.path) does not match: \(difference)")
            }
            reference.unknownStateHorizon = max(reference.unknownStateHorizon, directory.cookie!.unknownStateHorizon)
        }
        var configured = expected
        configured.instanceID = reference.instanceID
        if let difference = reference.differences(from: configured, selfName: "the cookie", otherName: "the configuration") {
            throw Mismatch(description: "bookie \(expected.bookieID) was started with another configuration than its cookie: \(difference)")
        }
        if let used = directories.first(where: { $0.cookie == nil && $0.hasData }) {
            throw Mismatch(description: "\(used.path) holds data but no cookie: it may belong to another bookie")
        }
        if registered == nil {
            if directories.contains(where: \.hasData) {
                throw Mismatch(
                    description: "\(withCookie[0].path) has a cookie of bookie \(reference.bookieID), but the metadata store has none: is --metadata-url pointing at another cluster?"
                )
            }
            return .format(reference)  // Cookies written, registration interrupted.
        }
        let emptied = directories.filter { $0.cookie == nil }.map(\.path)
        return emptied.isEmpty ? .matches(reference) : .dataLost(reference, emptied: emptied)
    }

    /// Reads what a directory holds; a missing directory holds nothing.
    public static func inspect(_ path: String) throws -> Directory {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        let cookiePath = Cookie.path(in: path)
        var cookie: Cookie?
        if names.contains("COOKIE") {
            do {
                cookie = try JSONDecoder().decode(Cookie.self, from: Data(contentsOf: URL(fileURLWithPath: cookiePath)))
            } catch {
                throw Mismatch(description: "the cookie \(cookiePath) cannot be read: \(error)")
            }
        }
        return Directory(path: path, cookie: cookie, hasData: names.contains { !$0.hasPrefix("COOKIE") && !$0.hasPrefix(".") })
    }

    /// Writes the cookie into a directory durably (a temporary file renamed into place).
    public static func write(_ cookie: Cookie, into directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let path = Cookie.path(in: directory)
        let temporary = path + ".tmp"
        let data = try encoder.encode(cookie)
        guard FileManager.default.createFile(atPath: temporary, contents: data) else {
            throw Mismatch(description: "cannot write \(temporary)")
        }
        let fd = open(temporary, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
        guard rename(temporary, path) == 0 else {
            throw Mismatch(description: "cannot rename \(temporary) to \(path): \(String(cString: strerror(errno)))")
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }
}

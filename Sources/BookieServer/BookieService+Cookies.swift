import BookieStorage
import Foundation
import Logging
import Metadata
import NIOPosix

extension BookieService {
    /// Compares the cookies in the data directories and the metadata store with each other
    /// and the configuration, formats a new bookie, and records a data loss. Returns the
    /// unknown-state horizon the storage opens with.
    func checkCookies(metadata: any MetadataStore) async throws -> UInt64 {
        let configuration = self.configuration
        var distinct: [String] = []
        for path in [configuration.journalDirectory] + configuration.ledgerDirectories where !distinct.contains(path) {
            distinct.append(path)
        }
        let paths = distinct
        // File reads and writes: on a thread pool, not the cooperative one.
        let directories = try await NIOThreadPool.singleton.runIfActive { try paths.map(CookieCheck.inspect) }
        let key = ClusterLayout.cookie(configuration.id)
        let stored = try await metadata.get(key)
        let registered: Cookie?
        do {
            registered = try stored.map { try JSONDecoder().decode(Cookie.self, from: Data($0.value)) }
        } catch {
            throw CookieCheck.Mismatch(description: "the cookie at \(key) in the metadata store cannot be read: \(error)")
        }
        let expected = Cookie(
            bookieID: configuration.id, journalDirectory: configuration.journalDirectory,
            ledgerDirectories: configuration.ledgerDirectories
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        switch try CookieCheck.verdict(expected: expected, registered: registered, directories: directories) {
        case .format(let cookie):
            try await NIOThreadPool.singleton.runIfActive { for path in paths { try CookieCheck.write(cookie, into: path) } }
            try await metadata.put(key, value: Array(try encoder.encode(cookie)), expecting: .absent)
            self.logger.info("formatted a new bookie", metadata: ["id": "\(cookie.bookieID)", "instance": "\(cookie.instanceID)"])
            return cookie.unknownStateHorizon
        case .matches(let cookie):
            return cookie.unknownStateHorizon
        case .dataLost(var cookie, let emptied):
            let allocated = try await metadata.currentID(ClusterLayout.ledgerIDCounter)
            cookie.unknownStateHorizon = max(cookie.unknownStateHorizon, UInt64(allocated))
            // The store first, so that a crash before the directories are written repeats
            // this step rather than forgetting the loss.
            try await metadata.put(key, value: Array(try encoder.encode(cookie)), expecting: .version(stored!.version))
            let written = cookie
            try await NIOThreadPool.singleton.runIfActive { for path in paths { try CookieCheck.write(written, into: path) } }
            self.logger.warning(
                "data directories were found empty: ledgers up to the horizon may have lost entries here and will answer UNKNOWN_LEDGER_STATE",
                metadata: ["emptied": "\(emptied.joined(separator: ","))", "horizon": "\(cookie.unknownStateHorizon)"]
            )
            return cookie.unknownStateHorizon
        }
    }
}

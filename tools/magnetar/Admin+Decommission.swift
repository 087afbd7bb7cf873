import ArgumentParser
import Foundation
import MagnetarHTTP
import MagnetarHTTPClient

extension Admin.Bookies {
    /// `bookies decommission <id>`: marks the bookie decommissioned (it takes no new
    /// ensembles and autorecovery moves its ledgers' copies elsewhere), waits until no
    /// ledger names it, then removes its registration and cookie.
    struct Decommission: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drain a bookie: re-replicate its ledgers elsewhere, then remove its registration and cookie.",
            discussion: """
                Closed ledgers move at the auditor's next pass; an open ledger on the bookie \
                moves once its topic rolls it over. Stop the bookie's process afterwards.
                """
        )
        @OptionGroup var options: AdminOptions
        @Argument(help: "The bookie's id.") var bookie: String
        @Option(help: "Seconds to wait for the bookie to be drained.") var waitSeconds: Int = 600

        func run() async throws {
            try await Admin.perform(self.options) { session in
                guard self.waitSeconds > 0 else { throw AdminError(.invalidArgument, "--wait-seconds must be above 0") }
                let path = "/admin/v2/bookies/\(AdminRequest.segment(self.bookie))"
                var remaining = try Self.ledgers(try await session.send(.put(path + "/decommission")))
                print("bookie \(self.bookie) decommissioned; \(remaining) ledgers to move")
                let deadline = ContinuousClock.now + .seconds(self.waitSeconds)
                var reported = remaining
                while remaining > 0 {
                    guard ContinuousClock.now < deadline else {
                        throw AdminError(.rejected, "\(remaining) ledgers still have copies on bookie \(self.bookie) after \(self.waitSeconds) s")
                    }
                    try? await Task.sleep(for: .seconds(1))
                    remaining = try Self.ledgers(try await session.send(.get(path + "/decommission")))
                    if remaining != reported {
                        print("\(remaining) ledgers to move")
                        reported = remaining
                    }
                }
                _ = try await session.send(.delete(path))
                print("bookie \(self.bookie) drained and removed")
            }
        }

        /// The `ledgers` count of a decommission status.
        static func ledgers(_ response: HTTPClientResponse) throws(AdminError) -> Int {
            guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], let count = object["ledgers"] as? Int else {
                throw AdminError(.invalidResponse, "the decommission status cannot be read")
            }
            return count
        }
    }
}

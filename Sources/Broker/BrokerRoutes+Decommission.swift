import Foundation
import Hummingbird
import Ledger
import MagnetarHTTP
import Metadata

extension BrokerRoutes {
    /// Draining a bookie out of the cluster (`magnetar admin bookies decommission`):
    /// - `PUT /admin/v2/bookies/{bookie}/decommission` marks it decommissioned: it takes no
    ///   new ensembles, and autorecovery re-replicates its ledgers elsewhere;
    /// - `GET /admin/v2/bookies/{bookie}/decommission` tells the progress:
    ///   `{"bookie", "decommissioned", "registered", "ledgers"}`, `ledgers` counting those
    ///   whose ensembles still name it;
    /// - `DELETE /admin/v2/bookies/{bookie}` removes a drained bookie's registration, cookie
    ///   and mark (409 while ledgers still name it or it is not decommissioned).
    static func addDecommissionRoutes(to router: Router<BasicRequestContext>, _ context: @escaping @Sendable () throws -> BrokerContext) {
        struct Status: Encodable {
            var bookie: String
            var decommissioned: Bool
            var registered: Bool
            var ledgers: Int
        }
        @Sendable func status(_ bookie: String) async throws -> Status {
            let metadata = try context().metadata
            return Status(
                bookie: bookie,
                decommissioned: try await metadata.get(ClusterLayout.decommissionedBookie(bookie)) != nil,
                registered: try await metadata.get(ClusterLayout.availableBookie(bookie)) != nil,
                ledgers: try await UnderReplication.ledgers(referencing: bookie, in: metadata).count
            )
        }
        @Sendable func bookie(_ route: BasicRequestContext) throws -> String {
            let id = route.pathParameter("bookie")
            guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || "-_.:".contains($0) }) else {
                throw RESTError(.preconditionFailed, reason: "'\(id)' is not a valid bookie id")
            }
            return id
        }
        router.put("/admin/v2/bookies/{bookie}/decommission") { _, route in
            let id = try bookie(route)
            let metadata = try context().metadata
            let cookie = try await metadata.get(ClusterLayout.cookie(id))
            let registration = try await metadata.get(ClusterLayout.availableBookie(id))
            guard cookie != nil || registration != nil else { throw RESTError(.notFound, reason: "bookie \(id) is not known to the cluster") }
            try await UnderReplication.decommission(id, in: metadata)
            return try Response.json(try await status(id))
        }
        router.get("/admin/v2/bookies/{bookie}/decommission") { _, route in
            try Response.json(try await status(try bookie(route)))
        }
        router.delete("/admin/v2/bookies/{bookie}") { _, route in
            let id = try bookie(route)
            do {
                try await UnderReplication.removeDecommissioned(id, in: try context().metadata)
            } catch let error as LedgerError where error.code == .invalidArgument {
                throw RESTError(.conflict, reason: error.message)
            }
            return Response(status: .noContent)
        }
    }
}

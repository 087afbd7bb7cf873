/// A tenant, under Pulsar's TenantInfo JSON names, stored at `/admin/policies/<tenant>`.
struct TenantInfo: Codable, Equatable, Sendable {
    var adminRoles: [String] = []
    var allowedClusters: [String] = []

    init(adminRoles: [String] = [], allowedClusters: [String] = []) {
        self.adminRoles = adminRoles
        self.allowedClusters = allowedClusters
    }

    /// Either field may be left out.
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.adminRoles = try container.decodeIfPresent([String].self, forKey: .adminRoles) ?? []
        self.allowedClusters = try container.decodeIfPresent([String].self, forKey: .allowedClusters) ?? []
    }
}

/// A cluster, under Pulsar's ClusterData JSON names, stored at `/admin/clusters/<name>`.
struct ClusterInfo: Codable, Equatable, Sendable {
    var serviceUrl: String
    var brokerServiceUrl: String
}

/// Where the cluster's shared state lives in the metadata store: the keys every process
/// agrees on.
public enum ClusterLayout {
    /// The id counter ledgers are numbered from (`/counters/ledger-id`).
    public static let ledgerIDCounter = "ledger-id"

    /// Ledger metadata: `/ledgers/<id>`.
    public static let ledgers = "/ledgers"

    public static func ledger(_ id: UInt64) -> String {
        "\(Self.ledgers)/\(id)"
    }

    /// Live bookies register here as ephemeral keys: `/bookies/available/<id>`.
    public static let availableBookies = "/bookies/available"

    public static func availableBookie(_ id: String) -> String {
        "\(Self.availableBookies)/\(id)"
    }

    /// Each bookie's identity: `/bookies/cookies/<id>`.
    public static func cookie(_ bookieID: String) -> String {
        "/bookies/cookies/\(bookieID)"
    }
}

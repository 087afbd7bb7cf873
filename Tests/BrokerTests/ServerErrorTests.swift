@testable import Broker
import ClusterTesting
import Ledger
import ManagedLedger
import Metadata
import PulsarProto
import PulsarWire
import Testing

/// What a client is told when the broker fails it: Pulsar's ServerError for the kind of
/// failure, so that the client knows whether to retry, look the topic up again, or give up.
@Suite("Errors as Pulsar's ServerError", .timeLimit(.minutes(4)))
struct ServerErrorTests {
    typealias Frames = BrokerProtocolTests

    @Test func everyBrokerErrorHasItsServerError() {
        let expected: [(BrokerError.Code, Pulsar_Proto_ServerError)] = [
            (.invalidTopicName, .invalidTopicName), (.notAllowed, .notAllowedError), (.producerBusy, .producerBusy),
            (.producerFenced, .producerFenced), (.consumerBusy, .consumerBusy), (.persistence, .persistenceError),
            (.serviceNotReady, .serviceNotReady), (.metadata, .metadataError), (.unknown, .unknownError),
        ]
        for (code, error) in expected {
            #expect(BrokerError.code(for: BrokerError(code, "x")).serverError == error, "\(code)")
        }
    }

    /// Storage and metadata failures, bare or wrapped by the managed ledger, map by what
    /// they are: a log another broker took over means "look it up again" (ServiceNotReady).
    @Test func storageAndMetadataFailuresMapByKind() {
        let cases: [(any Error, Pulsar_Proto_ServerError)] = [
            (MetadataError(.unavailable, "down"), .metadataError),
            (LedgerError(.notEnoughBookies, "two of three"), .persistenceError),
            (ManagedLedgerError(.fenced, "taken over"), .serviceNotReady),
            (ManagedLedgerError(.closed, "closed"), .serviceNotReady),
            (ManagedLedgerError(.corruptMetadata, "bad JSON"), .metadataError),
            (ManagedLedgerError(.storage, "creating a ledger", cause: LedgerError(.bookieUnavailable, "none")), .persistenceError),
            (ManagedLedgerError(.storage, "listing ledgers", cause: MetadataError(.unavailable, "down")), .metadataError),
        ]
        for (error, expected) in cases {
            #expect(BrokerError.code(for: error).serverError == expected, "\(error)")
        }
        // Wrapped with a context, as loading a topic does, an error keeps its kind.
        #expect(BrokerError(MetadataError(.unavailable, "down"), "cannot load t").code == .metadata)
        #expect(BrokerError(BrokerError(.invalidTopicName, "bad"), "cannot load t").code == .invalidTopicName)
        #expect(BrokerError(ManagedLedgerError(.fenced, "taken over"), "cannot load t").code == .serviceNotReady)
    }

    /// A topic whose ledger cannot be created (its namespace wants four bookies, three
    /// run): PRODUCER and SUBSCRIBE get PersistenceError, not UnknownError.
    @Test func aTopicThatCannotLoadAnswersPersistenceError() async throws {
        let cluster = try await BrokerCluster.start(label: "raw-load-failure")
        defer { cluster.stop() }
        #expect(try await cluster.http("PUT", "/admin/v2/namespaces/public/four").status == 204)
        let four = "{\"bookkeeperEnsemble\":4,\"bookkeeperWriteQuorum\":4,\"bookkeeperAckQuorum\":4}"
        #expect(try await cluster.http("POST", "/admin/v2/namespaces/public/four/persistence", body: four).status == 204)
        let client = try await RawPulsarClient.connect(port: cluster.port)
        defer { Task { await client.close() } }
        let topic = "persistent://public/four/t"

        try await client.send(Frames.producer(topic, id: 1, request: 1))
        let producer = try await client.next(timeout: .seconds(60)).command
        #expect(producer.type == .error && producer.error.requestID == 1)
        #expect(producer.error.error == .persistenceError, "\(producer.error)")

        try await client.send(Frames.subscribe(topic, "s", type: .exclusive, consumer: 1, name: "c", request: 2))
        let subscribe = try await client.next(timeout: .seconds(60)).command
        #expect(subscribe.type == .error && subscribe.error.requestID == 2)
        #expect(subscribe.error.error == .persistenceError, "\(subscribe.error)")
    }
}

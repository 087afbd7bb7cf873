import Foundation
import MagnetarHTTPClient
import PulsarProto

/// Lookups over a broker's HTTP service (`http://` service URLs), as Pulsar's clients
/// make them: `/lookup/v2/topic/…` for the broker serving a topic, the admin API for a
/// topic's partitions and a namespace's topics. A 307 is followed to the broker it names.
extension PulsarClient {
    /// The address (`pulsar://`) of the broker serving `topic`.
    func httpLookup(_ topic: TopicName) async throws(PulsarClientError) -> BrokerAddress {
        let body = try await self.httpGet("/lookup/v2/topic/\(topic.domain)/\(topic.tenant)/\(topic.namespace)/\(Self.escaped(topic.local))", for: "lookup of \(topic)")
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], let url = object["brokerUrl"] as? String else {
            throw PulsarClientError(.lookupFailed, "lookup of \(topic) answered no brokerUrl: \(String(decoding: body.prefix(200), as: UTF8.self))")
        }
        do throws(PulsarClientError) {
            let parsed = try ServiceURL(parsing: url)
            guard parsed.scheme == .pulsar, let first = parsed.addresses.first else { throw PulsarClientError(.lookupFailed, "not a pulsar:// URL") }
            return first
        } catch {
            throw PulsarClientError(.lookupFailed, "lookup of \(topic) answered an unusable broker URL '\(url)': \(error.message)")
        }
    }

    /// How many partitions `topic` has (0: not partitioned).
    func httpPartitionCount(of topic: TopicName) async throws(PulsarClientError) -> Int {
        let path = "/admin/v2/\(topic.domain)/\(topic.tenant)/\(topic.namespace)/\(Self.escaped(topic.local))/partitions"
        let body = try await self.httpGet(path, for: "partitioned metadata of \(topic)")
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], let count = object["partitions"] as? Int else {
            throw PulsarClientError(.lookupFailed, "partitioned metadata of \(topic) is not {\"partitions\": N}")
        }
        return count
    }

    /// The persistent topics of `namespace`.
    func httpTopics(ofNamespace namespace: String) async throws(PulsarClientError) -> [String] {
        let body = try await self.httpGet("/admin/v2/namespaces/\(namespace)/topics?mode=PERSISTENT", for: "the topics of \(namespace)")
        guard let topics = try? JSONSerialization.jsonObject(with: Data(body)) as? [String] else {
            throw PulsarClientError(.lookupFailed, "the topics of \(namespace) are not a JSON list")
        }
        return topics
    }

    /// The body of a 200 answer to `GET path` from the next address of the service URL,
    /// following redirects. A 5xx or a failure to connect is retriable; a 4xx is not.
    private func httpGet(_ path: String, for what: String) async throws(PulsarClientError) -> [UInt8] {
        var url = "http://\(self.serviceAddress())\(path)"
        for _ in 0...self.configuration.maxLookupRedirects {
            let response: HTTPClientResponse
            do {
                response = try await HTTPClient.request("GET", url, headers: [("Accept", "application/json")], timeout: self.configuration.operationTimeout)
            } catch let error as HTTPClientError where error.code == .timedOut {
                throw PulsarClientError(.timeout, "\(what): \(error.message)", cause: error)
            } catch is CancellationError {
                throw PulsarClientError(.cancelled, "\(what) was cancelled")
            } catch {
                throw PulsarClientError(.connectionFailed, "\(what): \(error)")
            }
            switch response.status {
            case 200:
                return response.body
            case 301, 302, 307, 308:
                guard let location = response.header("Location") else {
                    throw PulsarClientError(.lookupFailed, "\(what): a redirect without a Location")
                }
                url = location
            default:
                throw PulsarClientError(
                    .lookupFailed, "\(what): HTTP \(response.status) \(Self.reason(response.body))", serverError: Self.serverError(status: response.status)
                )
            }
        }
        throw PulsarClientError(.tooManyRedirects, "\(what) was redirected more than \(self.configuration.maxLookupRedirects) times")
    }

    /// The broker error an HTTP status stands for: 5xx (a broker starting, a bundle
    /// changing hands) may pass, so it is retriable; a 4xx will not.
    static func serverError(status: Int) -> Pulsar_Proto_ServerError {
        switch status {
        case 500...: .serviceNotReady
        case 401, 403: .authorizationError
        case 404: .topicNotFound
        default: .notAllowedError
        }
    }

    private static func reason(_ body: [UInt8]) -> String {
        if let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], let reason = object["reason"] as? String { return reason }
        return String(decoding: body.prefix(200), as: UTF8.self)
    }

    private static func escaped(_ local: String) -> String {
        local.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? local
    }
}

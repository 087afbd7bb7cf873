import Foundation
import MagnetarHTTP
import MagnetarHTTPClient

/// One `magnetar admin` invocation's connection settings: where requests go, how long
/// each may take, and how answers are printed.
///
/// ``send(_:)`` follows up to five redirects (Pulsar's brokers redirect to a bundle's
/// owner) with the same method and body, and turns every status outside 2xx into an
/// ``AdminError`` whose message is the `reason` of Pulsar's `{"reason": …}` body.
struct AdminSession: Sendable {
    var baseURL: String
    var format: AdminOutput.Format
    var timeout: Duration

    init(baseURL: String, format: AdminOutput.Format = .text, timeout: Duration = .seconds(30)) {
        self.baseURL = baseURL
        self.format = format
        self.timeout = timeout
    }

    /// The session the shared options ask for, the admin URL resolved from the
    /// configuration file when not given.
    init(_ options: AdminOptions) throws(AdminError) {
        let url: String
        if let explicit = options.adminURL {
            url = explicit
        } else {
            url = try AdminConfig.load(from: AdminConfig.path()).adminURL(explicit: nil, context: options.context)
        }
        guard options.timeout > 0 else { throw AdminError(.invalidArgument, "--timeout must be above 0 seconds") }
        self.init(baseURL: url, format: options.output, timeout: .seconds(options.timeout))
    }

    /// Sends `request` and returns the 2xx answer.
    func send(_ request: AdminRequest) async throws(AdminError) -> HTTPClientResponse {
        var url = request.url(base: self.baseURL)
        let body = request.body.map { Array($0.text.utf8) }
        var headers = [("Accept", "application/json")]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        for _ in 0..<6 {
            let response: HTTPClientResponse
            do {
                response = try await HTTPClient.request(request.method, url, body: body, headers: headers, timeout: self.timeout)
            } catch let error as HTTPClientError {
                switch error.code {
                case .invalidURL: throw AdminError(.invalidArgument, "bad admin URL: \(error.message)")
                case .connectionFailed, .timedOut: throw AdminError(.unreachable, "\(error.message)", cause: error.cause)
                default: throw AdminError(.invalidResponse, "\(error.message)", cause: error.cause)
                }
            } catch {
                throw AdminError(.unreachable, "the request was interrupted", cause: error)
            }
            if [301, 302, 303, 307, 308].contains(response.status), let location = response.header("Location") {
                url = Self.resolve(location, against: url)
                continue
            }
            guard (200..<300).contains(response.status) else {
                throw AdminError(.rejected, Self.reason(response), httpStatus: response.status)
            }
            return response
        }
        throw AdminError(.invalidResponse, "\(request.method) \(request.target) was redirected too often")
    }

    /// Prints `response` as ``AdminOutput/render(_:format:confirmation:lines:)`` says.
    func show(_ response: HTTPClientResponse, confirmation: String? = nil, lines: ((Any) -> [String]?)? = nil) {
        if let text = AdminOutput.render(response.body, format: self.format, confirmation: confirmation, lines: lines) {
            print(text)
        }
    }

    /// The `reason` of a Pulsar error body, else the body's text, else the status.
    static func reason(_ response: HTTPClientResponse) -> String {
        if let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
            let reason = object["reason"] as? String ?? object["message"] as? String
        {
            return reason
        }
        let text = String(decoding: response.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "the server answered \(response.status)" : text
    }

    /// `location` as an absolute URL: a path is taken relative to `url`'s server.
    static func resolve(_ location: String, against url: String) -> String {
        guard location.hasPrefix("/") else { return location }
        let afterScheme = url.range(of: "://").map(\.upperBound) ?? url.startIndex
        let authorityEnd = url[afterScheme...].firstIndex(of: "/") ?? url.endIndex
        return url[..<authorityEnd] + location
    }
}

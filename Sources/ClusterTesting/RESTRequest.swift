import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One request to a broker's REST API, redirects followed, as the integration tests send
/// them: a JSON body when given, a 30 s timeout.
public enum RESTRequest {
    /// Sends `method url` and returns the status and the body as text.
    public static func send(_ method: String, _ url: String, body: String? = nil) async throws -> (status: Int, body: String) {
        guard let target = URL(string: url) else { throw TestHarnessError("not a URL: \(url)") }
        var request = URLRequest(url: target)
        request.httpMethod = method
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        request.timeoutInterval = 30
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}

public import NIOHTTP1

/// Maps method + path to handlers. A route's path is literal segments and `{name}`
/// segments; a `{name}` segment matches any one non-empty segment, whose percent-decoded
/// value lands in ``HTTPRequest/parameters``. Routes are tried in the order they were
/// added, and empty segments are ignored (`/a//b/` matches `/a/b`).
///
/// A path no route matches gets 404, a path that matches only for other methods gets 405
/// with `allow`, and a handler's thrown error becomes a response (see ``HTTPError``); all
/// with a `{"reason": ...}` JSON body.
public struct HTTPRouter: Sendable {
    /// Runs in a task on Swift's cooperative pool: blocking work (disk, RocksDB) belongs on
    /// a thread pool of its own.
    public typealias Handler = @Sendable (HTTPRequest) async throws -> HTTPResponse

    private enum Segment: Equatable {
        case literal(String)
        case parameter(String)
    }

    private struct Route {
        var method: HTTPMethod
        var segments: [Segment]
        var handler: Handler
    }

    private var routes: [Route] = []

    public init() {}

    /// Adds a route for `method` at `path`, e.g. `/admin/v2/persistent/{tenant}/{namespace}/{topic}`.
    public mutating func on(_ method: HTTPMethod, _ path: String, handler: @escaping Handler) {
        let segments = path.split(separator: "/").map { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") && segment.count > 2
                ? Segment.parameter(String(segment.dropFirst().dropLast()))
                : Segment.literal(String(segment))
        }
        self.routes.append(Route(method: method, segments: segments, handler: handler))
    }

    public mutating func get(_ path: String, handler: @escaping Handler) { self.on(.GET, path, handler: handler) }
    public mutating func post(_ path: String, handler: @escaping Handler) { self.on(.POST, path, handler: handler) }
    public mutating func put(_ path: String, handler: @escaping Handler) { self.on(.PUT, path, handler: handler) }
    public mutating func delete(_ path: String, handler: @escaping Handler) { self.on(.DELETE, path, handler: handler) }

    /// Runs the matching handler, turning routing failures and thrown errors into responses.
    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        let segments = request.path.utf8.split(separator: UInt8(ascii: "/")).map {
            HTTPRequest.percentDecoded($0, plusIsSpace: false)
        }
        var allowed: [String] = []
        for route in self.routes {
            guard let parameters = Self.match(route.segments, segments) else { continue }
            guard route.method == request.method else {
                allowed.append(route.method.rawValue)
                continue
            }
            var request = request
            request.parameters = parameters
            do {
                return try await route.handler(request)
            } catch let error as HTTPError {
                return .error(error.status, reason: error.reason)
            } catch {
                return .error(.internalServerError, reason: String(describing: error))
            }
        }
        guard allowed.isEmpty else {
            var response = HTTPResponse.error(.methodNotAllowed, reason: "Method \(request.method.rawValue) not allowed")
            response.headers.add(name: "allow", value: allowed.joined(separator: ", "))
            return response
        }
        return .error(.notFound, reason: "No route for \(request.path)")
    }

    /// The captured parameters if `path` fits `pattern`, else nil.
    private static func match(_ pattern: [Segment], _ path: [String]) -> [String: String]? {
        guard pattern.count == path.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, value) in zip(pattern, path) {
            switch segment {
            case .literal(let literal) where literal == value: continue
            case .literal: return nil
            case .parameter(let name): parameters[name] = value
            }
        }
        return parameters
    }
}

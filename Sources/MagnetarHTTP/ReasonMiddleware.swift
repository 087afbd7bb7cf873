import HTTPTypes
public import Hummingbird

/// Turns every error a route (or routing) throws into a response with a
/// `{"reason": "..."}` body: ``RESTError`` as it says, an unmatched path as 404 (`No route
/// for /path`), other HTTP errors with their status, anything else as 500 with the error's
/// description.
public struct ReasonMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as RESTError {
            return .reason(error.reason, status: error.status)
        } catch let error as HTTPError {
            let reason = error.body ?? (error.status == .notFound ? "No route for \(request.uri.path)" : error.status.reasonPhrase)
            return .reason(reason, status: error.status)
        } catch let error as any HTTPResponseError {
            return .reason(error.status.reasonPhrase, status: error.status)
        } catch {
            return .reason(String(describing: error), status: .internalServerError)
        }
    }
}

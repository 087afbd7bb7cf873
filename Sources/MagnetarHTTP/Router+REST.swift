public import Hummingbird

extension Router<BasicRequestContext> {
    /// A router whose requests are counted and timed (Hummingbird's `MetricsMiddleware`,
    /// through the process's `MetricsSystem`) and whose errors answer `{"reason": ...}`
    /// (``ReasonMiddleware``). Routes added later get both.
    public static func rest() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: MetricsMiddleware<BasicRequestContext>())
        router.add(middleware: ReasonMiddleware<BasicRequestContext>())
        return router
    }
}

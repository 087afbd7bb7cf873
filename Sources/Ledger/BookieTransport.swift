public import BookieWire
public import NIOCore

/// What the ledger client needs from one bookie: adds (the writer's, and recovery's
/// rewrites), reads (plain, fencing and long-poll), LAC reads and writes. The client holds
/// one transport per bookie, made by a ``BookieTransportFactory``: a TCP connection in
/// production, an in-process bookie in tests.
///
/// A transport is confined to the client's event loop: every method is called on it, and
/// every callback runs on it. Each request is answered exactly once: with the bookie's
/// response (which may carry a failure status), or with a ``LedgerError`` — `timeout` when
/// no answer came within the request's timeout, `bookieUnavailable` when the bookie could
/// not be reached or the transport was closed, or the error given to ``cancel(_:_:)``.
/// Requests made in one turn of the loop may be sent together.
public protocol BookieTransport: AnyObject {
    typealias Callback = (Result<BookieResponse, LedgerError>) -> Void

    /// Adds `entry`, framed with `digest` (its ``LedgerEntry/digest``, computed once by the
    /// writer for all the bookies of its write set). The payload goes out as it is, never
    /// copied. Returns the request's id, for ``cancel(_:_:)``.
    @discardableResult
    func add(_ entry: LedgerEntry, digest: UInt32, ledgerKey: [UInt8], recovery: Bool, timeout: TimeAmount, callback: @escaping Callback) -> UInt64

    /// Sends any other request (reads, fencing reads, LAC reads and writes, recovery adds
    /// of encoded entries). Returns the request's id, for ``cancel(_:_:)``.
    @discardableResult
    func send(_ request: BookieRequest.Body, timeout: TimeAmount, callback: @escaping Callback) -> UInt64

    /// Gives up on a request: its callback runs now with `error`, and its answer, if one
    /// comes, is ignored. Does nothing for a request already answered.
    func cancel(_ id: UInt64, _ error: LedgerError)

    /// Told when a request fails for a reason that says the bookie is unwell (a timeout,
    /// an unreachable bookie), before that request's callback runs.
    var onFailure: ((LedgerError) -> Void)? { get set }

    /// Closes the transport; outstanding requests fail with `bookieUnavailable`.
    func close()
}

/// Makes the client's transport to a bookie from its registration, on the client's event
/// loop. ``nio`` (TCP through SwiftNIO) is the default.
public struct BookieTransportFactory: Sendable {
    let make: @Sendable (BookieRegistration, any EventLoop) -> (any BookieTransport)?

    /// A factory calling `make` with a bookie's registration and the client's loop; nil
    /// means the bookie cannot be reached (its requests fail with `bookieUnavailable`).
    public init(_ make: @escaping @Sendable (_ bookie: BookieRegistration, _ eventLoop: any EventLoop) -> (any BookieTransport)?) {
        self.make = make
    }

    /// One pipelined TCP connection per bookie, to the `host:port` it registered.
    public static var nio: BookieTransportFactory {
        BookieTransportFactory { registration, eventLoop in
            guard let colon = registration.address.lastIndex(of: ":"),
                let port = Int(registration.address[registration.address.index(after: colon)...])
            else { return nil }
            return BookieConnection(bookieID: registration.id, host: String(registration.address[..<colon]), port: port, eventLoop: eventLoop)
        }
    }
}

import EtcdAPI
import Foundation
import GRPCCore
import GRPCProtobuf
import Logging
import Synchronization

/// The etcd RPCs the store calls.
enum EtcdMethod {
    case range, put, deleteRange, txn, watch, leaseGrant, leaseRevoke, leaseKeepAlive

    var descriptor: MethodDescriptor {
        switch self {
        case .range: MethodDescriptor(fullyQualifiedService: "etcdserverpb.KV", method: "Range")
        case .put: MethodDescriptor(fullyQualifiedService: "etcdserverpb.KV", method: "Put")
        case .deleteRange: MethodDescriptor(fullyQualifiedService: "etcdserverpb.KV", method: "DeleteRange")
        case .txn: MethodDescriptor(fullyQualifiedService: "etcdserverpb.KV", method: "Txn")
        case .watch: MethodDescriptor(fullyQualifiedService: "etcdserverpb.Watch", method: "Watch")
        case .leaseGrant: MethodDescriptor(fullyQualifiedService: "etcdserverpb.Lease", method: "LeaseGrant")
        case .leaseRevoke: MethodDescriptor(fullyQualifiedService: "etcdserverpb.Lease", method: "LeaseRevoke")
        case .leaseKeepAlive: MethodDescriptor(fullyQualifiedService: "etcdserverpb.Lease", method: "LeaseKeepAlive")
        }
    }
}

/// The revision a watch resumes from: one past the last event it delivered.
final class WatchCursor: Sendable {
    private let next: Atomic<Int64>

    init(_ start: Int64) { self.next = Atomic(start) }

    var revision: Int64 {
        get { self.next.load(ordering: .relaxed) }
        set { self.next.store(newValue, ordering: .relaxed) }
    }
}

extension EtcdMetadataStore {
    /// Feeds `continuation` from etcd watch streams, starting at revision `start` and
    /// reconnecting (to the next endpoint when one fails) from the revision after the last
    /// one delivered, until the consumer goes away or etcd can no longer serve the history.
    func runWatch(
        _ scope: WatchScope,
        from start: Int64,
        into continuation: AsyncThrowingStream<MetadataEvent, any Error>.Continuation
    ) async {
        let next = WatchCursor(start)
        while !Task.isCancelled {
            let (index, client) = self.preferredClient()
            do {
                try await self.streamWatch(scope, client: client, next: next, into: continuation)
            } catch let error as MetadataError {
                continuation.finish(throwing: error)
                return
            } catch {
                if Task.isCancelled { break }
                self.logger.debug("etcd watch stream broke; resuming", metadata: ["error": "\(error)"])
                self.rotatePreferred(from: index)
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        continuation.finish(throwing: MetadataError(.unavailable, "the watch was stopped"))
    }

    /// One watch stream: create the watcher at `next`, deliver events, advance `next`.
    /// Returns or throws when the stream ends; throws a ``MetadataError`` when resuming
    /// cannot help.
    private func streamWatch(
        _ scope: WatchScope,
        client: GRPCClient<some ClientTransport>,
        next: WatchCursor,
        into continuation: AsyncThrowingStream<MetadataEvent, any Error>.Continuation
    ) async throws {
        var create = EtcdWatchCreateRequest()
        switch scope {
        case .key(let key):
            create.key = Data(key.utf8)
        case .prefix(let prefix):
            create.key = Data(prefix.utf8)
            create.rangeEnd = Data(MetadataKey.rangeEnd(forPrefix: prefix))
        }
        create.startRevision = next.revision
        var message = EtcdWatchRequest()
        message.createRequest = create
        let request = message
        let (finished, finish) = AsyncStream.makeStream(of: Void.self)
        var options = CallOptions.defaults
        options.waitForReady = false
        try await client.bidirectionalStreaming(
            request: StreamingClientRequest { writer in
                try await writer.write(request)
                for await _ in finished {}  // Keep the request side open while events flow.
            },
            descriptor: EtcdMethod.watch.descriptor,
            serializer: ProtobufSerializer<EtcdWatchRequest>(),
            deserializer: ProtobufDeserializer<EtcdWatchResponse>(),
            options: options
        ) { response in
            defer { finish.finish() }
            for try await message in response.messages {
                if message.compactRevision > 0 {
                    throw MetadataError(
                        .notFound,
                        "etcd compacted the history this watch needs (revision \(message.compactRevision))"
                    )
                }
                if message.canceled {
                    throw MetadataError(.unavailable, "etcd cancelled the watch: \(message.cancelReason)")
                }
                for event in message.events {
                    let key = String(decoding: event.kv.key, as: UTF8.self)
                    continuation.yield(
                        MetadataEvent(
                            kind: event.type == .delete ? .delete : .put,
                            key: key,
                            value: event.type == .delete ? [] : Array(event.kv.value),
                            version: event.kv.modRevision
                        )
                    )
                    next.revision = event.kv.modRevision + 1
                }
            }
        }
        throw RPCError(code: .unavailable, message: "etcd ended the watch stream")
    }
}

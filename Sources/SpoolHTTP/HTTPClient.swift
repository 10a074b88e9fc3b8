import CCurl
import SpoolSupport

/// An async HTTP client for provider calls: libcurl's multi interface, driven by one OS thread.
///
/// Worker slots submit requests and suspend; the thread runs every transfer at once, so a worker with
/// 200 slots has 200 requests in flight on one thread, with no thread per request. Connections stay
/// open in the multi handle's cache and are reused by later requests to the same host. TLS peer and
/// host verification stay on (libcurl's default); `Options.caBundlePath` adds trust, it never removes it.
///
/// A cancelled caller gets `CancellationError` at once: a request not started yet is dropped, and one
/// in flight is taken out of the multi handle, which closes its connection. The provider may have
/// received it all the same.
///
/// Redirects are not followed: a 3xx is an answer like any other, and a caller that expects one
/// follows it itself, deciding which headers (credentials above all) go along. A multipart body is
/// streamed from its parts, so an uploaded file is never copied into a second buffer.
public final class HTTPClient: Sendable {
    public struct Options: Sendable {
        /// Idle connections kept open for reuse; set it at least to the number of requests in flight.
        public var maximumConnections = 256
        /// A bigger answer fails with `.responseTooLarge` instead of growing memory without bound.
        public var maximumResponseBytes = 64 << 20
        public var userAgent = "spool/1"
        /// A PEM bundle to trust instead of the system's (a private CA in a test, say).
        public var caBundlePath: String?
        public init() {}
    }

    private let engine: CurlEngine

    public init(name: String = "http", options: Options = Options()) {
        engine = CurlEngine(options: options)
        let engine = self.engine
        startThread(name: "spool-\(name)") { engine.serve() }
    }

    deinit { engine.shutdown() }

    /// Sends one request. A status of 4xx or 5xx is an answer, not an error: only a request that got
    /// no answer throws, as an `HTTPClientError`, or as `CancellationError` when the caller was cancelled.
    public func send(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        try Task.checkCancellation()
        let engine = self.engine
        let transfer = try Transfer(request: request, options: engine.options)
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                transfer.continuation = continuation
                engine.submit(transfer)
            }
        } onCancel: {
            engine.cancel(transfer)
        }
    }

    /// Refuses new requests; those in flight finish (each within its own timeout).
    public func close() { engine.shutdown() }
}

/// Shared between callers and the client's thread. `incoming`, `cancelled` and the flags are guarded
/// by `lock`; everything else belongs to the thread.
private final class CurlEngine: @unchecked Sendable {
    let options: HTTPClient.Options
    private let multi: UnsafeMutableRawPointer
    private let lock = ConditionLock()
    private var incoming: [Transfer] = []
    /// Transfers whose callers were cancelled after the thread took them: it aborts those still running.
    private var cancelled: [Transfer] = []
    private var closed = false
    private var finished = false
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]
    private var spareHandles: [UnsafeMutableRawPointer] = []

    private static let globalInit: Void = { _ = curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    init(options: HTTPClient.Options) {
        _ = Self.globalInit
        self.options = options
        multi = curl_multi_init()
        _ = spool_curl_multi_set_long(multi, CURLMOPT_MAXCONNECTS, options.maximumConnections)
    }

    func submit(_ transfer: Transfer) {
        lock.lock()
        if closed {
            lock.unlock()
            transfer.fail(HTTPClientError(.closed, "\(transfer.summary): the HTTP client is closed"))
            return
        }
        // Checked under the lock: a cancellation that comes later finds the transfer here (`cancel`).
        if Task.isCancelled {
            lock.unlock()
            transfer.fail(CancellationError())
            return
        }
        incoming.append(transfer)
        curl_multi_wakeup(multi)
        lock.unlock()
    }

    /// A cancelled caller's transfer: one not started yet is failed here, one the thread took is
    /// handed to the thread to abort (a no-op if it has finished meanwhile).
    func cancel(_ transfer: Transfer) {
        lock.lock()
        if let index = incoming.firstIndex(where: { $0 === transfer }) {
            incoming.remove(at: index)
            lock.unlock()
            transfer.fail(CancellationError())
            return
        }
        if !finished {
            cancelled.append(transfer)
            curl_multi_wakeup(multi)
        }
        lock.unlock()
    }

    func shutdown() {
        lock.withLock {
            closed = true
            if !finished { curl_multi_wakeup(multi) }
        }
    }

    /// The thread's loop: start what was submitted, let libcurl move every transfer, answer the
    /// finished ones, and sleep in poll until a socket is ready or a caller wakes it.
    func serve() {
        var fresh: [Transfer] = []
        var aborting: [Transfer] = []
        while true {
            lock.lock()
            swap(&fresh, &incoming)
            swap(&aborting, &cancelled)
            let stopping = closed
            lock.unlock()
            for transfer in fresh { start(transfer) }
            fresh.removeAll(keepingCapacity: true)
            for transfer in aborting { abort(transfer) }
            aborting.removeAll(keepingCapacity: true)

            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            collectFinished()
            if stopping && active.isEmpty {
                lock.lock()
                let drained = incoming.isEmpty
                if drained { finished = true }
                lock.unlock()
                if drained { break }
                continue
            }
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
        for handle in spareHandles { curl_easy_cleanup(handle) }
        curl_multi_cleanup(multi)
    }

    private func start(_ transfer: Transfer) {
        let handle = spareHandles.popLast() ?? curl_easy_init()!
        if let error = transfer.configure(handle, options: options) {
            curl_easy_reset(handle)
            spareHandles.append(handle)
            transfer.fail(error)
            return
        }
        active[handle] = transfer
        let added = curl_multi_add_handle(multi, handle)
        if added != CURLM_OK {
            active[handle] = nil
            curl_easy_reset(handle)
            spareHandles.append(handle)
            transfer.fail(HTTPClientError(.transport, "\(transfer.summary): \(String(cString: curl_multi_strerror(added)))"))
        }
    }

    /// Stops a running transfer whose caller was cancelled. Removing the handle ends the transfer and
    /// closes its connection, which a half-read response leaves unusable.
    private func abort(_ transfer: Transfer) {
        guard let handle = active.first(where: { $0.value === transfer })?.key else { return }
        active[handle] = nil
        curl_multi_remove_handle(multi, handle)
        curl_easy_reset(handle)
        if spareHandles.count < options.maximumConnections { spareHandles.append(handle) } else { curl_easy_cleanup(handle) }
        transfer.fail(CancellationError())
    }

    private func collectFinished() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle else { continue }
            let result = message.pointee.data.result
            curl_multi_remove_handle(multi, handle)
            if let transfer = active.removeValue(forKey: handle) { transfer.complete(handle: handle, result: result) }
            curl_easy_reset(handle)
            if spareHandles.count < options.maximumConnections { spareHandles.append(handle) } else { curl_easy_cleanup(handle) }
        }
    }
}

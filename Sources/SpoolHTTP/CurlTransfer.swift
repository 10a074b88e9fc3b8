import CCurl
import SpoolSupport

/// One request on its way through libcurl: what to send, what has arrived, and who waits for it.
/// Owned by the client's thread from `configure` until `complete` or `fail` resumes the caller.
final class Transfer: @unchecked Sendable {
    let request: HTTPClientRequest
    /// "POST https://api.example.com/v1/x", redacted: what errors and logs may say.
    let summary: String
    var continuation: UnsafeContinuation<HTTPClientResponse, any Error>?
    /// A body sent from one buffer (`CURLOPT_POSTFIELDS`): JSON, forms, bytes.
    private let body: UnsafeMutableRawBufferPointer?
    /// A multipart body, streamed (`CURLOPT_READFUNCTION`) from its pieces: the parts' heads and each
    /// part's own data array, so a file uploaded is never copied into a second buffer.
    private let pieces: [[UInt8]]
    /// The streamed body's length; nil when the body is not streamed.
    private let streamedLength: Int?
    /// Where the stream is: the piece, and the offset in it.
    private var pieceIndex = 0
    private var pieceOffset = 0
    private let contentType: String?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private var maximumBytes = Int.max
    fileprivate var received: [UInt8] = []
    fileprivate var receivedHeaders = HeaderFields()
    fileprivate var tooLarge = false

    init(request: HTTPClientRequest, options: HTTPClient.Options) throws {
        self.request = request
        summary = "\(request.method) \(URLRedaction.redact(request.url))"
        errorBuffer[0] = 0
        for (name, value) in request.headers {
            // A CR or LF would let a value smuggle in headers of its own.
            if name.isEmpty || name.contains(where: { $0 == ":" || $0.isNewline || $0 == " " }) || value.contains(where: \.isNewline) {
                throw HTTPClientError(
                    .invalidRequest, "\(summary): header \"\(name)\" has a line break, colon or space where none is allowed")
            }
        }
        if case .multipart(let parts)? = request.body {
            let boundary = MultipartPart.makeBoundary()
            let streamed = MultipartPart.pieces(parts, boundary: boundary)
            pieces = streamed
            streamedLength = streamed.reduce(0) { $0 + $1.count }
            body = nil
            contentType = MultipartPart.contentType(boundary: boundary)
        } else if let encoded = request.body?.encoded() {
            let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(encoded.bytes.count, 1), alignment: 1)
            storage.copyBytes(from: encoded.bytes)
            body = UnsafeMutableRawBufferPointer(rebasing: storage[0..<encoded.bytes.count])
            pieces = []
            streamedLength = nil
            contentType = encoded.contentType
        } else {
            body = nil
            pieces = []
            streamedLength = nil
            contentType = nil
        }
    }

    deinit {
        if let headerList { curl_slist_free_all(headerList) }
        if let body, let base = body.baseAddress { UnsafeMutableRawPointer(mutating: base).deallocate() }
        errorBuffer.deallocate()
    }

    func fail(_ error: any Error) {
        continuation?.resume(throwing: error)
        continuation = nil
    }

    /// Sets every option on a fresh (or reset) easy handle; an error means the request cannot be sent.
    func configure(_ handle: UnsafeMutableRawPointer, options: HTTPClient.Options) -> HTTPClientError? {
        maximumBytes = min(max(request.maximumResponseBytes ?? Int.max, 0), options.maximumResponseBytes)
        let me = Unmanaged.passUnretained(self).toOpaque()
        var failed = CURLE_OK
        func set(_ option: CURLoption, _ value: Int) { if failed == CURLE_OK { failed = spool_curl_set_long(handle, option, value) } }
        func set(_ option: CURLoption, _ text: String) {
            if failed == CURLE_OK { failed = text.withCString { spool_curl_set_pointer(handle, option, $0) } }  // libcurl copies strings
        }

        set(CURLOPT_URL, request.url)
        set(CURLOPT_PROTOCOLS_STR, "http,https")
        set(CURLOPT_NOSIGNAL, 1)
        set(CURLOPT_CONNECTTIMEOUT_MS, milliseconds(request.connectTimeout))
        set(CURLOPT_TIMEOUT_MS, milliseconds(request.timeout))
        set(CURLOPT_USERAGENT, options.userAgent)
        set(CURLOPT_ACCEPT_ENCODING, "")
        // libcurl's receive buffer is 16 KiB per transfer: with a thousand calls in flight (AI replies
        // waiting on a model) that is 16 MB. Provider answers are small; a large download only takes
        // more callbacks.
        set(CURLOPT_BUFFERSIZE, 4096)
        if let path = options.caBundlePath { set(CURLOPT_CAINFO, path) }
        if request.maximumResponseBytes != nil, failed == CURLE_OK {
            // Refused before its body is read when the Content-Length is over the cap; the body
            // callback enforces it when there is none.
            failed = spool_curl_set_offset(handle, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(maximumBytes))
        }
        if failed == CURLE_OK { failed = spool_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer) }
        if failed == CURLE_OK { failed = spool_curl_set_callback(handle, CURLOPT_WRITEFUNCTION, bodyCallback) }
        if failed == CURLE_OK { failed = spool_curl_set_pointer(handle, CURLOPT_WRITEDATA, me) }
        if failed == CURLE_OK { failed = spool_curl_set_callback(handle, CURLOPT_HEADERFUNCTION, headerCallback) }
        if failed == CURLE_OK { failed = spool_curl_set_pointer(handle, CURLOPT_HEADERDATA, me) }

        let method = request.method.uppercased()
        let hasBody = body != nil || streamedLength != nil
        switch method {
        case "GET" where !hasBody: set(CURLOPT_HTTPGET, 1)
        case "HEAD": set(CURLOPT_NOBODY, 1)
        case "POST": set(CURLOPT_POST, 1)
        default: set(CURLOPT_CUSTOMREQUEST, method)
        }
        if let body {
            if method != "POST" { set(CURLOPT_POST, 1); set(CURLOPT_CUSTOMREQUEST, method) }
            if failed == CURLE_OK { failed = spool_curl_set_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)) }
            if failed == CURLE_OK { failed = spool_curl_set_pointer(handle, CURLOPT_POSTFIELDS, body.baseAddress) }
        } else if let streamedLength {
            // POST without POSTFIELDS: libcurl asks the read callback for the body, as long as
            // POSTFIELDSIZE says, and rewinds it with the seek callback if it must send it again.
            if method != "POST" { set(CURLOPT_POST, 1); set(CURLOPT_CUSTOMREQUEST, method) }
            pieceIndex = 0
            pieceOffset = 0
            if failed == CURLE_OK { failed = spool_curl_set_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(streamedLength)) }
            if failed == CURLE_OK { failed = spool_curl_set_callback(handle, CURLOPT_READFUNCTION, readCallback) }
            if failed == CURLE_OK { failed = spool_curl_set_pointer(handle, CURLOPT_READDATA, me) }
            if failed == CURLE_OK { failed = spool_curl_set_seek_callback(handle, CURLOPT_SEEKFUNCTION, seekCallback) }
            if failed == CURLE_OK { failed = spool_curl_set_pointer(handle, CURLOPT_SEEKDATA, me) }
        } else if method == "POST" {
            // An empty body, said outright: without POSTFIELDS libcurl would read the body from stdin.
            if failed == CURLE_OK { failed = spool_curl_set_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, 0) }
            if failed == CURLE_OK { failed = "".withCString { spool_curl_set_pointer(handle, CURLOPT_COPYPOSTFIELDS, $0) } }
        }

        var lines = request.headers.map { "\($0.name): \($0.value)" }
        if let contentType, !request.headers.contains("Content-Type") { lines.append("Content-Type: \(contentType)") }
        if hasBody { lines.append("Expect:") }  // no 100-continue round trip before every upload
        for line in lines { headerList = curl_slist_append(headerList, line) }
        if let headerList, failed == CURLE_OK { failed = spool_curl_set_pointer(handle, CURLOPT_HTTPHEADER, headerList) }

        if failed != CURLE_OK {
            return HTTPClientError(.invalidRequest, "\(summary): libcurl refused an option: \(String(cString: curl_easy_strerror(failed)))")
        }
        return nil
    }

    /// Called on the client's thread when libcurl is done with the transfer.
    func complete(handle: UnsafeMutableRawPointer, result: CURLcode) {
        guard result == CURLE_OK else {
            fail(error(for: result))
            return
        }
        var status = 0
        _ = spool_curl_get_long(handle, CURLINFO_RESPONSE_CODE, &status)
        continuation?.resume(returning: HTTPClientResponse(status: status, headers: receivedHeaders, body: received))
        continuation = nil
    }

    private func error(for result: CURLcode) -> HTTPClientError {
        let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(result))
        let kind: HTTPClientError.Kind
        switch result {
        case CURLE_OPERATION_TIMEDOUT: kind = .timeout
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: kind = .connect
        case CURLE_GOT_NOTHING, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_PARTIAL_FILE: kind = .connectionLost
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE:
            kind = .tls
        case CURLE_WRITE_ERROR where tooLarge: kind = .responseTooLarge
        case CURLE_FILESIZE_EXCEEDED: kind = .responseTooLarge
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: kind = .invalidRequest
        default: kind = .transport
        }
        if kind == .responseTooLarge { return HTTPClientError(kind, "\(summary): the answer exceeds \(maximumBytes) bytes") }
        return HTTPClientError(kind, "\(summary): \(URLRedaction.redact(detail))")
    }

    private func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }

    fileprivate func appendBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if received.count + bytes.count > maximumBytes {
            tooLarge = true
            return false
        }
        received.append(contentsOf: bytes)
        return true
    }

    /// Fills libcurl's buffer with the next bytes of a streamed body; 0 at its end.
    fileprivate func readBody(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let destination = buffer.baseAddress else { return 0 }
        var written = 0
        while written < buffer.count, pieceIndex < pieces.count {
            let piece = pieces[pieceIndex]  // the same storage, not a copy
            let available = piece.count - pieceOffset
            if available <= 0 {
                pieceIndex += 1
                pieceOffset = 0
                continue
            }
            let count = min(available, buffer.count - written)
            piece.withUnsafeBytes { source in
                (destination + written).copyMemory(from: source.baseAddress! + pieceOffset, byteCount: count)
            }
            written += count
            pieceOffset += count
        }
        return written
    }

    /// Moves a streamed body to `offset` from its start; false when it is outside the body.
    fileprivate func seekBody(to offset: Int) -> Bool {
        guard let streamedLength, offset >= 0, offset <= streamedLength else { return false }
        var rest = offset
        pieceIndex = 0
        while pieceIndex < pieces.count, rest >= pieces[pieceIndex].count {
            rest -= pieces[pieceIndex].count
            pieceIndex += 1
        }
        pieceOffset = rest
        return true
    }

    /// One header line per call, the status line included. A new status line starts a new response
    /// (after `100 Continue`, say), so only the final response's fields are kept.
    fileprivate func appendHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        var line = Substring(String(decoding: bytes, as: UTF8.self))
        while let last = line.last, last.isNewline { line.removeLast() }
        if line.hasPrefix("HTTP/") {
            receivedHeaders = HeaderFields()
            received.removeAll()
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].trimmingSpaces
        let value = line[line.index(after: colon)...].trimmingSpaces
        receivedHeaders.add(name, value)
        // An answer the caller bounded (a media download) is read into one buffer of its announced
        // size instead of one that doubles, and copies itself, as it grows.
        if request.maximumResponseBytes != nil, received.isEmpty, name.lowercased() == "content-length",
            let length = Int(value), length > 0, length <= maximumBytes
        {
            received.reserveCapacity(length)
        }
    }
}

private let bodyCallback: spool_curl_data_callback = { data, size, count, user in
    let transfer = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
    let length = size * count
    guard let data, length > 0 else { return 0 }
    return transfer.appendBody(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}

private let readCallback: spool_curl_data_callback = { data, size, count, user in
    let transfer = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
    let length = size * count
    guard let data, length > 0 else { return 0 }
    return transfer.readBody(into: UnsafeMutableRawBufferPointer(start: data, count: length))
}

/// 0 is CURL_SEEKFUNC_OK, 2 CURL_SEEKFUNC_CANTSEEK (libcurl then fails the transfer); libcurl only
/// ever seeks from the start (SEEK_SET, 0).
private let seekCallback: spool_curl_seek_callback = { user, offset, origin in
    let transfer = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
    guard origin == 0, let position = Int(exactly: offset) else { return 2 }
    return transfer.seekBody(to: position) ? 0 : 2
}

private let headerCallback: spool_curl_data_callback = { data, size, count, user in
    let transfer = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
    let length = size * count
    if let data, length > 0 { transfer.appendHeaderLine(UnsafeRawBufferPointer(start: data, count: length)) }
    return length
}

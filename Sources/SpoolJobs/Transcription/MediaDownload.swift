import SpoolHTTP
import SpoolSupport

/// Downloads one inbound attachment from where the provider hosts it.
///
/// - Credentials: Twilio serves media behind the account's Basic auth. They are sent only to the
///   Twilio API's own origin (`TWILIO_BASE_URL`, or the sandbox's URL in sandbox mode), never to
///   another host, and never along a redirect: Twilio answers a media URL with a redirect to a
///   pre-signed storage URL, which needs no credentials, and a storage service that gets them as well
///   refuses the request (S3: "only one auth mechanism allowed") or could keep them.
/// - Redirects: SpoolHTTP's client does not follow them (libcurl's FOLLOWLOCATION is off), so they are
///   followed here, at most `maximumRedirects`, http and https only.
/// - Size: at most `maximumBytes`, OpenAI's limit on an upload. The client is told the cap for the
///   transfer (`HTTPClientRequest.maximumResponseBytes`): libcurl refuses the answer before reading
///   its body when its Content-Length is over it, and stops the transfer the moment the body passes
///   it otherwise. So no more than 25 MiB (plus one read buffer) is ever read, into one buffer sized
///   from the Content-Length, and that buffer is the one the upload streams from.
struct MediaDownload: Sendable {
    /// 25 MiB: OpenAI's 413 names 26214400 bytes.
    static let maximumBytes = 25 * 1024 * 1024
    static let maximumRedirects = 5
    static let redirectStatuses: Set<Int> = [301, 302, 303, 307, 308]

    enum Result: Sendable {
        /// The file, and the Content-Type it was served with.
        case file(bytes: [UInt8], contentType: String?)
        /// Over `maximumBytes`: why, for the dead set and the message.
        case tooLarge(String)
        /// No file: the answer, or the lack of one, classified.
        case refused(ProviderVerdict)
    }

    let http: HTTPClient
    let clock: any WallClock

    func fetch(_ url: String, twilio: TwilioConfiguration?) async -> Result {
        var current = url
        var headers = HeaderFields()
        if let twilio, let home = Self.origin(of: twilio.baseURL), Self.origin(of: url) == home {
            headers.add("Authorization", HTTPClientRequest.basicAuthorization(user: twilio.accountSid, password: twilio.authToken))
        }
        var redirects = 0
        while true {
            var request = HTTPClientRequest("GET", current, headers: headers, timeout: .seconds(30))
            request.maximumResponseBytes = Self.maximumBytes
            let response: HTTPClientResponse
            do {
                response = try await http.send(request)
            } catch let error as HTTPClientError where error.kind == .responseTooLarge {
                return .tooLarge(
                    "oversized media: larger than \(Self.maximumBytes) bytes (25 MB), the most the transcription API takes")
            } catch {
                return .refused(ProviderClassifier.classify(error))
            }
            if Self.redirectStatuses.contains(response.status) {
                guard let location = response.headers["Location"], let next = Self.resolve(location, against: current) else {
                    return .refused(
                        .permanent(code: "bad_redirect", reason: "HTTP \(response.status) without a usable http(s) Location"))
                }
                guard redirects < Self.maximumRedirects else {
                    return .refused(.permanent(code: "too_many_redirects", reason: "more than \(Self.maximumRedirects) redirects"))
                }
                redirects += 1
                current = next
                headers = HeaderFields()  // the account's credentials never follow a redirect
                continue
            }
            let verdict = ProviderClassifier.classify(response, nowMs: clock.nowMillis())
            guard verdict == .success else { return .refused(verdict) }
            return .file(bytes: response.body, contentType: response.headers["Content-Type"])
        }
    }

    /// `scheme://host[:port]` in lower case, without user-info and without the scheme's default
    /// port; nil when `url` is not http(s).
    static func origin(of url: String) -> String? {
        guard let parts = parts(of: url) else { return nil }
        var authority = parts.authority.lowercased()
        if let at = authority.lastIndex(of: "@") { authority = String(authority[authority.index(after: at)...]) }
        if parts.scheme == "https", authority.hasSuffix(":443") { authority.removeLast(4) }
        if parts.scheme == "http", authority.hasSuffix(":80") { authority.removeLast(3) }
        return parts.scheme + "://" + authority
    }

    /// A redirect's Location made absolute against the URL that answered it; nil when it is not
    /// http(s) or cannot be read.
    static func resolve(_ location: String, against current: String) -> String? {
        let location = location.trimmingSpaces
        guard !location.isEmpty, let base = parts(of: current) else { return nil }
        if parts(of: location) != nil { return location }
        if location.contains("://") { return nil }  // another scheme: never followed
        if location.hasPrefix("//") { return base.scheme + ":" + location }
        if location.hasPrefix("/") { return base.scheme + "://" + base.authority + location }
        var path = base.path
        if let end = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = String(path[..<end]) }
        let directory = path.lastIndex(of: "/").map { String(path[...$0]) } ?? "/"
        return base.scheme + "://" + base.authority + directory + location
    }

    /// The scheme (lower case, http or https), the authority and the rest of a URL.
    static func parts(of url: String) -> (scheme: String, authority: String, path: String)? {
        guard let separator = url.firstRange(of: "://") else { return nil }
        let scheme = url[..<separator.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        let rest = url[separator.upperBound...]
        let end = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = String(rest[..<end])
        guard !authority.isEmpty else { return nil }
        return (scheme, authority, String(rest[end...]))
    }
}

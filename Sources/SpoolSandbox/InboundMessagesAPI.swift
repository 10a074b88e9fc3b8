import HTTPTypes
import Hummingbird
import NIOCore
import SpoolHTTP
import SpoolSMS
import SpoolSupport

/// The sandbox as Twilio when a contact writes: `POST /_sandbox/inbound {"from", "to", "body", "media":
/// [{"content_type", "transcript"?, "duration_seconds"?, "size_bytes"?, "served_content_type"?}],
/// "sid"?, "profile_name"?}` builds Twilio's inbound-message
/// webhook, signs it with X-Twilio-Signature (the sandbox's auth token, over the target URL) and posts
/// it to the inbound URL (`spool sandbox --inbound-url`, or `inbound_url` in `POST /_sandbox/faults`;
/// loopback only). It answers `{"sid", "status", "twiml", "media"}`: the webhook's HTTP status and
/// answer body, and the hosted media.
///
/// Each attachment is hosted at Twilio's media URL,
/// `/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{MediaSid}`, behind the account's
/// Basic auth like every Twilio resource (`.json` gives the media resource instead of the bytes). As
/// Twilio does, the media URL answers 307 with a pre-signed storage URL,
/// `/_sandbox/media/{MediaSid}?Expires=...&Signature=...`, which serves the bytes without credentials
/// and refuses a request that brings an Authorization header too (400, as S3 does). A transcript given
/// with an attachment is what the transcription API answers for exactly its bytes
/// (`TranscriptionsAPI`). `size_bytes`, `duration_seconds` and `served_content_type` shape the file:
/// its size (4 KiB by default), the duration a verbose transcription reports, and the Content-Type
/// storage serves it with (the attachment's own by default).
struct InboundMessagesAPI: Sendable {
    let state: SandboxState
    let client: HTTPClient
    /// Twilio sends at most 10 attachments with a message.
    static let maximumMedia = 10
    /// The largest file `size_bytes` may ask for: enough to go past OpenAI's 25 MiB.
    static let maximumMediaBytes = 64 * 1024 * 1024
    /// How long a storage URL works, as Twilio's pre-signed media URLs do for a while.
    static let storageURLSeconds: Int64 = 3600

    func register(on router: Router<BasicRequestContext>) {
        router.post("/_sandbox/inbound") { request, _ in try await inbound(request) }
        router.get("/_sandbox/media/:media") { request, context in
            try await storage(request, mediaSid: context.parameters.get("media") ?? "")
        }
        // `:file` as in the Messages fetch route, so that both share the trie's node for the message.
        router.get("/2010-04-01/Accounts/:account/Messages/:file/Media/:media") { request, context in
            try await media(
                request, account: context.parameters.get("account") ?? "", message: context.parameters.get("file") ?? "",
                file: context.parameters.get("media") ?? "")
        }
        router.get("/2010-04-01/Accounts/:account/Messages/:file/Media.json") { request, context in
            try await mediaList(request, account: context.parameters.get("account") ?? "", message: context.parameters.get("file") ?? "")
        }
    }

    /// What `POST /_sandbox/inbound` asks for.
    struct Inbound {
        struct Attachment {
            let contentType: String
            let transcript: String?
            /// The file's size; nil: 4 KiB.
            let sizeBytes: Int?
            /// What a verbose transcription reports; nil: derived from the size.
            let durationSeconds: Double?
            /// The Content-Type storage serves; nil: `contentType`.
            let servedContentType: String?
        }

        let from: String
        let to: String
        let body: String
        let media: [Attachment]
        let sid: String?
        let profileName: String?

        static func parse(_ json: JSONValue) throws -> Inbound {
            guard let fields = json.objectValue else { throw SandboxInputError("the body must be a JSON object, not \(json.typeName)") }
            for name in fields.keys.sorted() where !["from", "to", "body", "media", "sid", "profile_name"].contains(name) {
                throw SandboxInputError("unknown field '\(name)'")
            }
            func string(_ name: String, in fields: [String: JSONValue], required: Bool) throws -> String? {
                guard let value = fields[name], value != .null else {
                    if required { throw SandboxInputError("field '\(name)': required") }
                    return nil
                }
                guard let found = value.stringValue else {
                    throw SandboxInputError("field '\(name)': expected a string, got \(value.text)")
                }
                if required, found.isEmpty { throw SandboxInputError("field '\(name)': must not be empty") }
                return found
            }
            var media: [Attachment] = []
            if let value = fields["media"], value != .null {
                let limit = InboundMessagesAPI.maximumMedia
                guard let items = value.arrayValue, items.count <= limit else {
                    throw SandboxInputError("field 'media': expected an array of at most \(limit) objects, got \(value.text.prefix(80))")
                }
                for (index, item) in items.enumerated() {
                    guard let object = item.objectValue else {
                        throw SandboxInputError("field 'media[\(index)]': expected an object, got \(item.typeName)")
                    }
                    let known = ["content_type", "transcript", "size_bytes", "duration_seconds", "served_content_type"]
                    for name in object.keys.sorted() where !known.contains(name) {
                        throw SandboxInputError("field 'media[\(index)]': unknown field '\(name)'")
                    }
                    let contentType = try string("content_type", in: object, required: true) ?? ""
                    let transcript = try string("transcript", in: object, required: false)
                    let served = try string("served_content_type", in: object, required: false)
                    var size: Int?
                    if let value = object["size_bytes"], value != .null {
                        guard let bytes = value.intValue, (1...InboundMessagesAPI.maximumMediaBytes).contains(bytes) else {
                            throw SandboxInputError(
                                "field 'media[\(index)].size_bytes': expected an integer from 1 to \(InboundMessagesAPI.maximumMediaBytes), got \(value.text.prefix(40))"
                            )
                        }
                        size = bytes
                    }
                    var duration: Double?
                    if let value = object["duration_seconds"], value != .null {
                        guard let seconds = value.numberValue, seconds > 0, seconds <= 36_000 else {
                            throw SandboxInputError(
                                "field 'media[\(index)].duration_seconds': expected a number above 0 and at most 36000, got \(value.text.prefix(40))")
                        }
                        duration = seconds
                    }
                    media.append(
                        Attachment(
                            contentType: contentType, transcript: transcript, sizeBytes: size, durationSeconds: duration,
                            servedContentType: served))
                }
            }
            let sid = try string("sid", in: fields, required: false)
            if let sid {
                // It is a path segment of the media URLs.
                guard (2...64).contains(sid.utf8.count), sid.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
                    throw SandboxInputError("field 'sid': expected 2 to 64 ASCII letters and digits, such as SM and 32 hex digits")
                }
            }
            let from = try string("from", in: fields, required: true) ?? ""
            let to = try string("to", in: fields, required: true) ?? ""
            let body = try string("body", in: fields, required: false) ?? ""
            let profileName = try string("profile_name", in: fields, required: false)
            return Inbound(from: from, to: to, body: body, media: media, sid: sid, profileName: profileName)
        }
    }

    private func inbound(_ request: Request) async throws -> Response {
        var request = request
        guard let bytes = try await request.bodyBytes(limit: 1024 * 1024) else { return SandboxResponse.badRequest("body over 1 MiB") }
        let input: Inbound
        do { input = try Inbound.parse(try JSONValue.parse(bytes: bytes)) } catch { return SandboxResponse.badRequest("\(error)") }
        guard let url = state.withStore({ $0.settings.inboundURL }) else {
            return SandboxResponse.json(
                409,
                .object([
                    "error": .string(
                        "no inbound URL: start the sandbox with --inbound-url URL, or POST /_sandbox/faults {\"inbound_url\": URL}")
                ]))
        }
        guard let base = state.baseURL else {
            return SandboxResponse.json(503, .object(["error": .string("the sandbox is not listening yet")]))
        }
        let account = state.twilioAccountSid
        let now = SandboxTime.nowMs()
        // The files are made, and fingerprinted, outside the lock: up to 64 MiB each.
        let files: [(mediaSid: String, bytes: [UInt8], digest: String)] = input.media.map { attachment in
            let mediaSid = Self.freshSid("ME")
            let bytes = Self.bytes(mediaSid: mediaSid, contentType: attachment.contentType, size: attachment.sizeBytes ?? 4096)
            return (mediaSid: mediaSid, bytes: bytes, digest: Hashing.sha1Hex(bytes))
        }
        let (sid, form) = state.withStore { store -> (String, [(String, String)]) in
            // A sid sent before is Twilio's retry of that message: the very same webhook again.
            if let sid = input.sid, let sent = store.inbound.forms[sid] { return (sid, sent) }
            // Fresh ids come from the system's generator, not the fault seed: a sid must never repeat
            // across sandbox runs, or Spool would take a new message for a retried one.
            let sid = input.sid ?? Self.freshSid("SM")
            var form: [(String, String)] = [
                ("SmsMessageSid", sid), ("NumMedia", String(input.media.count)), ("SmsSid", sid), ("SmsStatus", "received"),
                ("Body", input.body), ("To", input.to), ("NumSegments", String(max(1, SMSEncoding(body: input.body).segments))),
                ("MessageSid", sid), ("AccountSid", account), ("From", input.from), ("ApiVersion", "2010-04-01"),
            ]
            if let profileName = input.profileName { form.append(("ProfileName", profileName)) }
            if input.from.lowercased().hasPrefix("whatsapp:") {
                form.append(("WaId", String(input.from.dropFirst("whatsapp:".count).filter { $0.isASCII && $0.isNumber })))
            }
            for (index, attachment) in input.media.enumerated() {
                let mediaSid = files[index].mediaSid
                store.inbound.media[mediaSid] = InboundStore.Media(
                    accountSid: account, messageSid: sid, contentType: attachment.contentType, bytes: files[index].bytes,
                    transcript: attachment.transcript, durationSeconds: attachment.durationSeconds,
                    servedContentType: attachment.servedContentType, createdMs: now)
                store.inbound.byDigest[files[index].digest] = mediaSid
                form.append(("MediaUrl\(index)", "\(base)/2010-04-01/Accounts/\(account)/Messages/\(sid)/Media/\(mediaSid)"))
                form.append(("MediaContentType\(index)", attachment.contentType))
            }
            store.inbound.forms[sid] = form
            return (sid, form)
        }
        let hosted: [JSONValue] = form.filter { $0.0.hasPrefix("MediaUrl") }.map { field -> JSONValue in
            let index = String(field.0.dropFirst("MediaUrl".count))
            let type = form.first { $0.0 == "MediaContentType" + index }?.1 ?? ""
            return .object(["url": .string(field.1), "content_type": .string(type)])
        }
        let signature = TwilioSignature.sign(url: url, parameters: form, authToken: state.twilioAuthToken)
        let webhook = HTTPClientRequest("POST", url, headers: ["X-Twilio-Signature": signature], body: .form(form), timeout: .seconds(15))
        do {
            let response = try await client.send(webhook)
            state.withStore { $0.counters.inboundWebhooks["status \(response.status)", default: 0] += 1 }
            return SandboxResponse.json(
                200,
                .object([
                    "sid": .string(sid), "status": .number(Double(response.status)), "twiml": .string(response.text),
                    "media": .array(hosted),
                ]))
        } catch {
            let kind = (error as? HTTPClientError)?.kind.rawValue ?? "other"
            state.withStore { $0.counters.inboundWebhooks[kind, default: 0] += 1 }
            return SandboxResponse.json(
                502, .object(["sid": .string(sid), "error": .string("the inbound webhook to \(url) failed: \(error)")]))
        }
    }

    private func media(_ request: Request, account: String, message: String, file: String) async throws -> Response {
        let decision = try await state.enter(.sms, endpoint: "sms.media")
        if let refusal = TwilioMessagesAPI.authenticate(request, account: account, state: state) { return refusal }
        if let status = decision.injectedStatus { return TwilioMessagesAPI.injected(status, retryAfter: decision.retryAfterSeconds) }
        let asJSON = file.hasSuffix(".json")
        let mediaSid = asJSON ? String(file.dropLast(5)) : file
        let path = "/2010-04-01/Accounts/\(account)/Messages/\(message)/Media/\(mediaSid)"
        guard let item = state.withStore({ $0.inbound.media[mediaSid] }), item.accountSid == account, item.messageSid == message else {
            return TwilioMessagesAPI.error(404, 20404, "The requested resource \(path) was not found")
        }
        if asJSON { return SandboxResponse.json(200, Self.mediaResource(item, sid: mediaSid)) }
        // As Twilio: a redirect to the file in storage, pre-signed, for a client to fetch without credentials.
        guard let base = state.baseURL else {
            return SandboxResponse.json(503, .object(["error": .string("the sandbox is not listening yet")]))
        }
        let expires = SandboxTime.nowMs() / 1000 + Self.storageURLSeconds
        let signature = Self.storageSignature(mediaSid: mediaSid, expires: expires, authToken: state.twilioAuthToken)
        var headers = HTTPFields()
        headers[.location] = "\(base)/_sandbox/media/\(mediaSid)?Expires=\(expires)&Signature=\(signature)"
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: .temporaryRedirect, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "Temporary Redirect")))
    }

    /// `GET .../Messages/{MessageSid}/Media.json`: the message's attachments as media resources, in
    /// their order, under `media_list` with Twilio's paging; none for a message without media.
    private func mediaList(_ request: Request, account: String, message: String) async throws -> Response {
        let decision = try await state.enter(.sms, endpoint: "sms.media_list")
        if let refusal = TwilioMessagesAPI.authenticate(request, account: account, state: state) { return refusal }
        if let status = decision.injectedStatus { return TwilioMessagesAPI.injected(status, retryAfter: decision.retryAfterSeconds) }
        let items = state.withStore { store -> [(sid: String, media: InboundStore.Media)] in
            var found: [(sid: String, media: InboundStore.Media)] = []
            for (name, url) in store.inbound.forms[message] ?? [] where name.hasPrefix("MediaUrl") {
                guard let last = url.split(separator: "/").last else { continue }
                let mediaSid = String(last)
                if let item = store.inbound.media[mediaSid], item.accountSid == account, item.messageSid == message {
                    found.append((sid: mediaSid, media: item))
                }
            }
            return found
        }
        return SandboxResponse.json(
            200,
            TwilioPaging.page(
                items, sid: { $0.sid }, resource: { Self.mediaResource($0.media, sid: $0.sid) }, key: "media_list",
                path: "/2010-04-01/Accounts/\(account)/Messages/\(message)/Media.json", query: request.query, filters: []))
    }

    /// Twilio's media resource for one attachment.
    static func mediaResource(_ item: InboundStore.Media, sid: String) -> JSONValue {
        let path = "/2010-04-01/Accounts/\(item.accountSid)/Messages/\(item.messageSid)/Media/\(sid)"
        return .object([
            "sid": .string(sid), "account_sid": .string(item.accountSid), "parent_sid": .string(item.messageSid),
            "content_type": .string(item.contentType), "date_created": .string(SandboxTime.rfc2822(item.createdMs)),
            "date_updated": .string(SandboxTime.rfc2822(item.createdMs)), "uri": .string(path + ".json"),
        ])
    }

    /// `GET /_sandbox/media/{MediaSid}?Expires=&Signature=`: the file, as storage serves a pre-signed URL.
    private func storage(_ request: Request, mediaSid: String) async throws -> Response {
        state.withStore { $0.counters.requests["media.storage", default: 0] += 1 }
        if request.header("Authorization") != nil {
            return Self.storageError(
                400, "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified"
            )
        }
        let query = request.query
        guard let expires = query["Expires"].flatMap({ Int64($0) }), let signature = query["Signature"],
            Hashing.constantTimeEqual(
                Array(signature.utf8),
                Array(Self.storageSignature(mediaSid: mediaSid, expires: expires, authToken: state.twilioAuthToken).utf8))
        else {
            return Self.storageError(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
        }
        guard expires * 1000 > SandboxTime.nowMs() else { return Self.storageError(403, "AccessDenied", "Request has expired") }
        guard let item = state.withStore({ $0.inbound.media[mediaSid] }) else {
            return Self.storageError(404, "NoSuchKey", "The specified key does not exist.")
        }
        var headers = HTTPFields()
        let served = item.servedContentType ?? item.contentType
        headers[.contentType] = served.isEmpty ? "application/octet-stream" : served
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: item.bytes)))
    }

    static func storageSignature(mediaSid: String, expires: Int64, authToken: String) -> String {
        Hashing.hex(Hashing.hmacSHA1(key: Array(authToken.utf8), message: Array("\(mediaSid)\n\(expires)".utf8)))
    }

    /// Storage's error, in S3's XML shape.
    private static func storageError(_ status: Int, _ code: String, _ message: String) -> Response {
        SandboxResponse.text(
            status, #"<?xml version="1.0" encoding="UTF-8"?><Error><Code>"# + code + "</Code><Message>" + message + "</Message></Error>",
            contentType: "application/xml")
    }

    /// A Twilio-shaped sid: two letters and 32 hex digits.
    static func freshSid(_ prefix: String) -> String {
        prefix + hex(UInt64.random(in: .min ... .max)) + hex(UInt64.random(in: .min ... .max))
    }

    /// `size` bytes (4 KiB by default) standing in for the file: the type's magic bytes where the
    /// sandbox knows them, then the media sid, so every attachment's bytes differ.
    static func bytes(mediaSid: String, contentType: String, size: Int = 4096) -> [UInt8] {
        let type = contentType.lowercased()
        var bytes: [UInt8] =
            if type == "audio/ogg" || type == "audio/opus" {
                Array("OggS".utf8)
            } else if type == "audio/mpeg" || type == "audio/mp3" {
                Array("ID3".utf8)
            } else if type == "image/jpeg" {
                [0xFF, 0xD8, 0xFF, 0xE0]
            } else if type == "image/png" {
                [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
            } else {
                []
            }
        bytes += Array("sandbox media \(mediaSid) (\(contentType))\n".utf8)
        if bytes.count >= size { return Array(bytes.prefix(size)) }
        while bytes.count < min(size, 4096) { bytes.append(UInt8(truncatingIfNeeded: bytes.count)) }
        // Past 4 KiB, zeros: a bulk fill, not a loop per byte (a big file is made in a debug build too).
        if bytes.count < size { bytes += [UInt8](repeating: 0, count: size - bytes.count) }
        return bytes
    }
}

/// What the sandbox keeps of inbound messages: each attachment by media sid (its bytes, type, and the
/// transcript a transcription of it should read), each attachment's sid by the SHA-1 of its bytes
/// (how a transcription finds it), and each message's webhook form by MessageSid, so that the same
/// sid again re-sends the same webhook.
struct InboundStore: Sendable {
    struct Media: Sendable {
        let accountSid: String
        let messageSid: String
        let contentType: String
        let bytes: [UInt8]
        let transcript: String?
        let durationSeconds: Double?
        let servedContentType: String?
        let createdMs: Int64
    }

    var media: [String: Media] = [:]
    var byDigest: [String: String] = [:]
    var forms: [String: [(String, String)]] = [:]

    /// The hosted attachment whose bytes are exactly `bytes` (`digest` is their SHA-1 in hex), if any.
    func hosted(_ bytes: [UInt8], digest: String) -> Media? {
        guard let sid = byDigest[digest], let item = media[sid], item.bytes == bytes else { return nil }
        return item
    }
}

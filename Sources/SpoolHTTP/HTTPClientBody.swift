import FoundationEssentials

/// A request body and the Content-Type it implies.
public enum HTTPClientBody: Sendable {
    /// JSON text, as `application/json`.
    case json(String)
    /// `application/x-www-form-urlencoded`, fields in the given order (Twilio takes its parameters this way).
    case form([(String, String)])
    /// `multipart/form-data`, for file uploads.
    case multipart([MultipartPart])
    /// Bytes with a Content-Type of the caller's choosing.
    case bytes([UInt8], contentType: String)

    /// The encoded bytes and the Content-Type header value.
    public func encoded() -> (bytes: [UInt8], contentType: String) {
        switch self {
        case .json(let text):
            return (Array(text.utf8), "application/json")
        case .form(let fields):
            return (Array(FormEncoding.encode(fields).utf8), "application/x-www-form-urlencoded")
        case .multipart(let parts):
            let boundary = MultipartPart.makeBoundary()
            return (MultipartPart.encode(parts, boundary: boundary), MultipartPart.contentType(boundary: boundary))
        case .bytes(let bytes, let contentType):
            return (bytes, contentType)
        }
    }
}

/// One part of a multipart/form-data body: a field, or a file with its name and type.
public struct MultipartPart: Sendable {
    public var name: String
    public var filename: String?
    public var contentType: String?
    public var data: [UInt8]

    public static func field(_ name: String, _ value: String) -> MultipartPart {
        MultipartPart(name: name, filename: nil, contentType: nil, data: Array(value.utf8))
    }

    public static func file(_ name: String, filename: String, contentType: String, data: [UInt8]) -> MultipartPart {
        MultipartPart(name: name, filename: filename, contentType: contentType, data: data)
    }

    static func encode(_ parts: [MultipartPart], boundary: String) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(parts.reduce(256) { $0 + $1.data.count + 200 })
        for piece in pieces(parts, boundary: boundary) { body.append(contentsOf: piece) }
        return body
    }

    /// The body in the order it goes on the wire: each part's head, the part's own `data` (the same
    /// array, not a copy), and the closing boundary. The client streams an upload from these
    /// (`Transfer`), so a file is never copied into a second buffer on its way out.
    static func pieces(_ parts: [MultipartPart], boundary: String) -> [[UInt8]] {
        var pieces: [[UInt8]] = []
        pieces.reserveCapacity(parts.count * 2 + 1)
        var separator = ""
        for part in parts {
            var head = separator + "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(quoted(part.name))\""
            if let filename = part.filename { head += "; filename=\"\(quoted(filename))\"" }
            head += "\r\n"
            if let contentType = part.contentType { head += "Content-Type: \(contentType)\r\n" }
            head += "\r\n"
            pieces.append(Array(head.utf8))
            pieces.append(part.data)
            separator = "\r\n"
        }
        pieces.append(Array((separator + "--\(boundary)--\r\n").utf8))
        return pieces
    }

    /// A boundary no file is likely to contain.
    static func makeBoundary() -> String {
        "spool-" + (0..<4).map { _ in String(UInt32.random(in: .min ... .max), radix: 16) }.joined()
    }

    static func contentType(boundary: String) -> String { "multipart/form-data; boundary=\(boundary)" }

    /// Quotes and line breaks would end the header value early.
    private static func quoted(_ text: String) -> String {
        text.replacing("\"", with: "%22").replacing("\r", with: "%0D").replacing("\n", with: "%0A")
    }
}

/// application/x-www-form-urlencoded, as browsers and Twilio write it.
public enum FormEncoding {
    public static func encode(_ fields: [(String, String)]) -> String {
        fields.map { escape($0.0) + "=" + escape($0.1) }.joined(separator: "&")
    }

    /// Parses a body or query string; `+` is a space. Malformed escapes are kept as they are.
    public static func decode(_ text: String) -> [(String, String)] {
        text.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (unescape(String(parts[0])), parts.count > 1 ? unescape(String(parts[1])) : "")
        }
    }

    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "*"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            case UInt8(ascii: " "):
                out += "+"
            default:
                out += "%" + hexDigit(byte >> 4) + hexDigit(byte & 0x0F)
            }
        }
        return out
    }

    public static func unescape(_ text: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        let utf8 = Array(text.utf8)
        var index = 0
        while index < utf8.count {
            let byte = utf8[index]
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), index + 2 < utf8.count, let high = hexValue(utf8[index + 1]),
                let low = hexValue(utf8[index + 2])
            {
                bytes.append(high << 4 | low)
                index += 2
            } else {
                bytes.append(byte)
            }
            index += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexDigit(_ value: UInt8) -> String { String(value, radix: 16, uppercase: true) }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

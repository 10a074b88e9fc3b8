import SpoolSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Reads a multipart/form-data body (RFC 7578) into its parts.
struct MultipartParser {
    struct Part {
        var name: String
        var filename: String?
        var contentType: String?
        var data: ArraySlice<UInt8>
    }

    /// The boundary named by a Content-Type such as `multipart/form-data; boundary=xyz`.
    static func boundary(fromContentType contentType: String) -> String? {
        guard contentType.lowercased().hasPrefix("multipart/form-data") else { return nil }
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingSpaces.lowercased() == "boundary" else { continue }
            var value = pair[1].trimmingSpaces
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value.isEmpty ? nil : value
        }
        return nil
    }

    static func parse(_ body: [UInt8], boundary: String) throws(SandboxInputError) -> [Part] {
        let delimiter = Array("--\(boundary)".utf8)
        let separator = Array("\r\n--\(boundary)".utf8)
        guard var cursor = find(delimiter, in: body, from: 0) else { throw SandboxInputError("the multipart body has no boundary line") }
        cursor += delimiter.count
        var parts: [Part] = []
        while true {
            if body.count >= cursor + 2, body[cursor] == UInt8(ascii: "-"), body[cursor + 1] == UInt8(ascii: "-") { return parts }
            guard body.count >= cursor + 2, body[cursor] == 0x0D, body[cursor + 1] == 0x0A else {
                throw SandboxInputError("the multipart body is malformed after a boundary at byte \(cursor)")
            }
            cursor += 2
            guard let headerEnd = find([0x0D, 0x0A, 0x0D, 0x0A], in: body, from: cursor) else {
                throw SandboxInputError("a multipart part has no end of headers")
            }
            let headers = String(decoding: body[cursor..<headerEnd], as: UTF8.self)
            let dataStart = headerEnd + 4
            guard let dataEnd = find(separator, in: body, from: dataStart) else {
                throw SandboxInputError("a multipart part has no closing boundary")
            }
            var part = Part(name: "", filename: nil, contentType: nil, data: body[dataStart..<dataEnd])
            for line in headers.split(separator: "\r\n") {
                let lower = line.lowercased()
                if lower.hasPrefix("content-disposition:") {
                    part.name = parameter("name", in: String(line)) ?? ""
                    part.filename = parameter("filename", in: String(line))
                } else if lower.hasPrefix("content-type:") {
                    part.contentType = String(line.dropFirst("content-type:".count)).trimmingSpaces
                }
            }
            parts.append(part)
            cursor = dataEnd + separator.count
        }
    }

    private static func parameter(_ name: String, in line: String) -> String? {
        for piece in line.split(separator: ";").dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingSpaces == name else { continue }
            let value = pair[1].trimmingSpaces
            return value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 ? String(value.dropFirst().dropLast()) : value
        }
        return nil
    }

    /// memchr to each candidate first byte, then memcmp: the body can be 26 MB, and a Swift loop
    /// over every byte would hold a thread for seconds in a debug build.
    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard let first = needle.first, start + needle.count <= haystack.count else { return nil }
        return haystack.withUnsafeBytes { hay in
            needle.withUnsafeBytes { pin in
                let base = hay.baseAddress!
                var offset = start
                let last = hay.count - needle.count
                while offset <= last {
                    guard let hit = memchr(base + offset, Int32(first), last - offset + 1) else { return nil }
                    let index = base.distance(to: UnsafeRawPointer(hit))
                    if memcmp(base + index, pin.baseAddress!, pin.count) == 0 { return index }
                    offset = index + 1
                }
                return nil
            }
        }
    }
}

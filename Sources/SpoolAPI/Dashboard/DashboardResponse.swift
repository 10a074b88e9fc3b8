import HTTPTypes
import Hummingbird
import NIOCore

/// The dashboard's answers: HTML pages and redirects (the JSON of the live feed is `APIResponse.json`).
enum DashboardResponse {
    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// 303 See Other: after a form, or to the login page, the browser GETs `location`.
    static func redirect(to location: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }
}

import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SpoolPostgres
import SpoolRedis
import SpoolSupport

/// Every refusal the API answers, as `{"error": {"code", "message", "field"?}}`.
public struct APIError: Error, Sendable, HTTPResponseError {
    public let statusCode: Int
    public let code: String
    public let message: String
    public let field: String?
    public var headers: [(String, String)] = []

    public init(status: Int, code: String, message: String, field: String? = nil) {
        statusCode = status
        self.code = code
        self.message = message
        self.field = field
    }

    public var status: HTTPResponse.Status { .init(code: statusCode) }

    static func invalid(_ field: String, _ message: String) -> APIError {
        APIError(status: 422, code: "invalid_field", message: message, field: field)
    }
    static func badJSON(_ message: String) -> APIError { APIError(status: 400, code: "malformed_json", message: message) }
    static func unauthorized(_ message: String) -> APIError {
        var error = APIError(status: 401, code: "unauthorized", message: message)
        error.headers = [("WWW-Authenticate", "Bearer")]
        return error
    }
    /// Not found, and also what a tenant gets for another tenant's job: 404, never 403, so no id leaks.
    static func notFound(_ what: String) -> APIError { APIError(status: 404, code: "not_found", message: "\(what) not found") }

    var json: JSONValue {
        var fields: [String: JSONValue] = ["code": .string(code), "message": .string(message)]
        if let field { fields["field"] = .string(field) }
        return .object(["error": .object(fields)])
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = APIResponse.json(statusCode, json)
        for (name, value) in headers { if let field = HTTPField.Name(name) { response.headers[field] = value } }
        return response
    }
}

/// Turns every error into a JSON answer. Only Redis or PostgreSQL being away (a connection, a pool or
/// a "not now" reply) is a 503 (try again); data PostgreSQL refuses is a 422, a constraint a 409;
/// anything else (a script error, a bad statement: a bug) is logged and answered as a 500 without
/// internals.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = APIContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as HTTPError where error.status == .notFound && KnownRoutes.methods(for: request.uri.path) != nil {
            let allowed = KnownRoutes.methods(for: request.uri.path)!
            var response = APIResponse.json(
                405,
                APIError(
                    status: 405, code: "method_not_allowed",
                    message: "\(request.uri.path) takes \(allowed.map(\.rawValue).joined(separator: ", "))"
                ).json)
            response.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
            return response
        } catch let error as HTTPError {
            let code =
                error.status == .notFound
                ? "not_found" : error.status == .methodNotAllowed ? "method_not_allowed" : "http_\(error.status.code)"
            let message =
                error.status == .notFound
                ? "no route \(request.method.rawValue) \(request.uri.path)" : (error.body ?? error.status.reasonPhrase)
            return APIResponse.json(error.status.code, APIError(status: error.status.code, code: code, message: message).json)
        } catch let error as RedisError where error.isConnectionError || error.isTransientReply {
            logger.warning("request failed on Redis", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return APIResponse.json(503, APIError(status: 503, code: "unavailable", message: "Redis is unavailable; try again").json)
        } catch let error as PostgresError
            where error.code == .connection || error.code == .poolTimeout || error.isTransient || error.isUnavailable
        {
            logger.warning("request failed on PostgreSQL", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return APIResponse.json(503, APIError(status: 503, code: "unavailable", message: "PostgreSQL is unavailable; try again").json)
        } catch let error as PostgresError where error.sqlState?.hasPrefix("22") == true {
            // Data PostgreSQL cannot store (a NUL byte, a number out of range): the request's fault.
            // Routes that know the field or line say so themselves; this is the last resort.
            logger.notice("request refused by PostgreSQL as bad data", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return APIResponse.json(422, APIError.invalid("(body)", "a value cannot be stored: \(error.message.prefix(200))").json)
        } catch let error as PostgresError where error.sqlState?.hasPrefix("23") == true {
            logger.notice("request conflicts with stored data", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return APIResponse.json(
                409, APIError(status: 409, code: "conflict", message: "conflicts with stored data: \(error.message.prefix(200))").json)
        } catch {
            logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return APIResponse.json(500, APIError(status: 500, code: "internal", message: "internal error").json)
        }
    }
}

enum APIResponse {
    static func json(_ status: Int, _ value: JSONValue) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: value.text)))
    }
}

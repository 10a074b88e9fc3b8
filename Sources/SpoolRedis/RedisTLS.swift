/// How a `rediss` connection verifies the server and, optionally, proves who the client is.
///
/// The server's certificate is always verified: against `caFile` when set (a managed service's or a
/// private CA), else the system's trust store; and its name must match the host the URL names (an IP
/// address must be in the certificate's IP addresses). There is no switch to turn either off.
public struct RedisTLS: Sendable, Hashable {
    /// PEM file of the CA certificates to trust (`SPOOL_REDIS_TLS_CA`).
    public var caFile: String?
    /// PEM client certificate and its key, for servers that ask for one (`SPOOL_REDIS_TLS_CERT`, `SPOOL_REDIS_TLS_KEY`).
    public var certificateFile: String?
    public var keyFile: String?

    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }
}

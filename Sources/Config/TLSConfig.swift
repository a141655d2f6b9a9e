/// Where a value came from in the config file, for errors found after decoding (a certificate that OpenSSL
/// refuses is only known to be bad once the TLS layer reads it).
public struct ConfigLocation: Sendable, Equatable {
    public var file: String
    public var line: Int
    public var column: Int
    /// Key path such as "listeners[0].tls.cert".
    public var path: String

    public init(file: String, line: Int, column: Int, path: String) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
    }

    public func error(_ message: String) -> ConfigError {
        ConfigError(file: file, line: line, column: column, path: path, message: message)
    }
}

/// A file named in the config (certificate, key, CA bundle). `path` is absolute or relative to the directory of
/// the config file, already joined, so it can be opened as is.
public struct TLSFileReference: Sendable, Equatable {
    public var path: String
    public var location: ConfigLocation

    public init(path: String, location: ConfigLocation) {
        self.path = path
        self.location = location
    }
}

/// A certificate chain (PEM, leaf first) and its private key.
public struct TLSCertificatePair: Sendable, Equatable {
    public var cert: TLSFileReference
    public var key: TLSFileReference

    public init(cert: TLSFileReference, key: TLSFileReference) {
        self.cert = cert
        self.key = key
    }
}

public enum TLSMinimumVersion: String, Sendable, Equatable {
    case tls12 = "1.2"
    case tls13 = "1.3"
}

/// `listeners[].tls`: the listener speaks HTTPS (and wss).
public struct DownstreamTLSConfig: Sendable, Equatable {
    /// Never empty. `[0]` is `cert`/`key` of the tls section (the default certificate), then `certificates`
    /// in order; a ClientHello's SNI picks the first whose names match.
    public var certificates: [TLSCertificatePair]
    /// CA bundle that client certificates must chain to; nil = client certificates are not requested.
    public var clientCA: TLSFileReference?
    /// With `clientCA`: a client without a valid certificate is refused during the handshake.
    public var requireClientCert: Bool
    public var minVersion: TLSMinimumVersion
    /// A connection that has not finished its handshake by then is closed.
    public var handshakeTimeout: Duration
    /// The `tls` key itself, for errors about the section as a whole.
    public var location: ConfigLocation

    public init(certificates: [TLSCertificatePair], clientCA: TLSFileReference? = nil, requireClientCert: Bool = false,
                minVersion: TLSMinimumVersion = .tls12, handshakeTimeout: Duration = .seconds(10),
                location: ConfigLocation) {
        self.certificates = certificates
        self.clientCA = clientCA
        self.requireClientCert = requireClientCert
        self.minVersion = minVersion
        self.handshakeTimeout = handshakeTimeout
        self.location = location
    }
}

/// `clusters[].tls`: connections to the cluster's endpoints use TLS (ALPN h2 required).
public struct UpstreamTLSConfig: Sendable, Equatable {
    /// CA bundle the servers' certificates must chain to; nil = the system trust store.
    public var ca: TLSFileReference?
    /// SNI and the name verified; nil = each endpoint's host as written (an IP literal is verified against the
    /// certificate's IP SANs and sent without SNI).
    public var serverName: String?
    /// Client certificate for mutual TLS.
    public var clientCertificate: TLSCertificatePair?
    /// false: any certificate is accepted (logged as a warning at start and shown in /metrics).
    public var verify: Bool
    public var location: ConfigLocation

    public init(ca: TLSFileReference? = nil, serverName: String? = nil, clientCertificate: TLSCertificatePair? = nil,
                verify: Bool = true, location: ConfigLocation) {
        self.ca = ca
        self.serverName = serverName
        self.clientCertificate = clientCertificate
        self.verify = verify
        self.location = location
    }
}

extension DownstreamTLSConfig {
    static let knownKeys = [
        "cert", "key", "certificates", "client_ca", "require_client_cert", "min_version", "handshake_timeout",
    ]

    /// `listeners[].tls`. `cert`/`key` are required: they are the certificate served when the ClientHello has no
    /// SNI or one that no entry of `certificates` matches.
    init(decoding node: ConfigNode, location: ConfigLocation) throws(ConfigError) {
        let mapping = try node.mapping(knownKeys: DownstreamTLSConfig.knownKeys)
        var certificates = [try TLSCertificatePair(requiredIn: mapping)]
        if let value = mapping.optional("certificates") {
            for item in try value.sequence() {
                let itemMapping = try item.mapping(knownKeys: TLSCertificatePair.knownKeys)
                certificates.append(try TLSCertificatePair(requiredIn: itemMapping))
            }
        }
        self.init(certificates: certificates, location: location)
        if let value = mapping.optional("client_ca") { clientCA = try value.fileReference() }
        if let value = mapping.optional("require_client_cert") {
            requireClientCert = try value.bool()
            if requireClientCert && clientCA == nil {
                throw mapping.keyError("require_client_cert",
                    "require_client_cert: true needs client_ca (the CA bundle that client certificates are verified against)")
            }
        }
        if let value = mapping.optional("min_version") { minVersion = try value.tlsMinimumVersion() }
        if let value = mapping.optional("handshake_timeout") { handshakeTimeout = try value.duration(allowZero: false) }
    }
}

extension UpstreamTLSConfig {
    static let knownKeys = ["ca", "server_name", "cert", "key", "verify"]

    /// `clusters[].tls`; `tls: {}` is TLS with the system trust store and each endpoint's host as the name.
    init(decoding node: ConfigNode, location: ConfigLocation) throws(ConfigError) {
        let mapping = try node.mapping(knownKeys: UpstreamTLSConfig.knownKeys)
        self.init(location: location)
        if let value = mapping.optional("ca") { ca = try value.fileReference() }
        if let entry = mapping.entry("server_name") {
            // Written but empty would silently fall back to the endpoint's host; say so instead.
            serverName = try mapping.base.child(entry.value, path: mapping.childPath("server_name")).tlsServerName()
        }
        clientCertificate = try TLSCertificatePair(optionalIn: mapping)
        if let value = mapping.optional("verify") { verify = try value.bool() }
    }
}

extension TLSCertificatePair {
    static let knownKeys = ["cert", "key"]

    /// `cert` and `key` of `mapping`, both required.
    init(requiredIn mapping: ConfigMapping) throws(ConfigError) {
        guard let pair = try TLSCertificatePair(optionalIn: mapping) else {
            // Neither is written (or both are empty): these throw the "missing" error at the section.
            _ = try mapping.required("cert")
            _ = try mapping.required("key")
            preconditionFailure("required() throws for a key that optional() found empty")
        }
        self = pair
    }

    /// `cert` and `key` of `mapping`, or nil when neither is written; one without the other is an error at the
    /// one that is there.
    init?(optionalIn mapping: ConfigMapping) throws(ConfigError) {
        let cert = mapping.optional("cert")
        let key = mapping.optional("key")
        switch (cert, key) {
        case (nil, nil):
            return nil
        case (.some, nil):
            throw mapping.keyError("cert", "cert needs key (the private key of this certificate)")
        case (nil, .some):
            throw mapping.keyError("key", "key needs cert (the certificate chain this key belongs to)")
        case (.some(let cert), .some(let key)):
            self.init(cert: try cert.fileReference(), key: try key.fileReference())
        }
    }
}

extension ConfigNode {
    /// Where this value is written, kept with decoded values so that checks done after decoding (OpenSSL
    /// reading a certificate) can still point at it.
    var location: ConfigLocation {
        ConfigLocation(file: file, line: position.line, column: position.column, path: path)
    }

    /// A certificate, key or CA file: a non-empty path, relative to the config file's directory.
    func fileReference() throws(ConfigError) -> TLSFileReference {
        let text = try nonEmptyString()
        if text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) { throw error("file path contains control characters") }
        return TLSFileReference(path: ConfigRelativePath.resolve(text, configFile: file), location: location)
    }

    /// `"1.2"` or `"1.3"`. Unquoted `1.2` is the same text to our parser, so it is accepted too.
    func tlsMinimumVersion() throws(ConfigError) -> TLSMinimumVersion {
        let text = try scalarText(expected: "a TLS version (\"1.2\" or \"1.3\")")
        if let version = TLSMinimumVersion(rawValue: text) { return version }
        if ["1.0", "1.1", "1", "1.00", "1.10"].contains(text) {
            throw error("TLS \(text) is not supported (deprecated by RFC 8996); min_version must be \"1.2\" or \"1.3\"")
        }
        var message = "invalid TLS version \"\(text)\" (expected \"1.2\" or \"1.3\")"
        let digits = text.filter { $0.isNumber || $0 == "." }
        if let version = TLSMinimumVersion(rawValue: digits) { message += "; did you mean \"\(version.rawValue)\"?" }
        throw error(message)
    }

    /// A host name or IP address as sent in SNI and checked against the certificate: no port, no scheme.
    func tlsServerName() throws(ConfigError) -> String {
        let text = node.isNull ? "" : try string()
        if text.isEmpty { throw error("must not be empty (leave server_name out to use each endpoint's host)") }
        if text.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "/") }) {
            throw error("invalid server_name \"\(text)\": expected a host name such as api.internal, without scheme, path or spaces")
        }
        // One colon followed by digits is host:port; IPv6 literals have several colons.
        let colons = text.utf8.filter { $0 == UInt8(ascii: ":") }.count
        if colons == 1, let port = text.split(separator: ":").last, port.allSatisfy(\.isNumber) {
            throw error("invalid server_name \"\(text)\": the name only, without a port")
        }
        return text
    }
}

extension ConfigMapping {
    /// The `tls` section of a listener or cluster: nil when absent. Written with an empty value it is an error
    /// rather than "absent", since `tls:` alone reads as "TLS with defaults" but would mean cleartext.
    func tlsSection() throws(ConfigError) -> (node: ConfigNode, location: ConfigLocation)? {
        guard let entry = entry("tls") else { return nil }
        let location = ConfigLocation(file: base.file, line: entry.keyPosition.line, column: entry.keyPosition.column,
                                      path: childPath("tls"))
        let node = base.child(entry.value, path: childPath("tls"))
        if entry.value.isNull {
            throw location.error("tls needs a mapping: write tls: {} for TLS with every default, or remove the key for cleartext")
        }
        return (node, location)
    }
}

public import Config
public import TLS

/// The OpenSSL contexts a config needs: one per TLS listener and one per TLS cluster, built from the files the
/// config names. Built at start, by `--validate`, and again on SIGHUP (certificate rotation); shared by every
/// worker (see `TLSServerContext`).
public struct TLSMaterial: Sendable {
    public var listeners: [String: TLSServerContext] = [:]
    public var clusters: [String: TLSClientContext] = [:]

    public init() {}

    /// Reads and checks every certificate, key and CA file. A problem is reported at the key that names the file,
    /// with OpenSSL's reason: `config.yaml:12:15: listeners[0].tls.key: certs/server.key does not match ...`.
    public static func load(_ config: ProxyConfig) throws(ConfigError) -> TLSMaterial {
        var material = TLSMaterial()
        for listener in config.listeners {
            guard let tls = listener.tls else { continue }
            do throws(TLSSetupError) {
                material.listeners[listener.name] = try TLSServerContext(serverSettings(tls, http2: listener.http2))
            } catch {
                throw located(error, certificates: tls.certificates, ca: tls.clientCA, section: tls.location)
            }
        }
        for cluster in config.clusters {
            guard let tls = cluster.tls else { continue }
            do throws(TLSSetupError) {
                material.clusters[cluster.name] = try TLSClientContext(clientSettings(tls))
            } catch {
                throw located(error, certificates: tls.clientCertificate.map { [$0] } ?? [], ca: tls.ca, section: tls.location)
            }
        }
        return material
    }

    /// ALPN protocols a TLS listener offers, most preferred first: h2 (all calls on one connection) unless the
    /// listener turns HTTP/2 off.
    static func listenerALPN(http2: Bool) -> [String] { http2 ? ["h2", "http/1.1"] : ["http/1.1"] }

    static func serverSettings(_ tls: DownstreamTLSConfig, http2: Bool) -> TLSServerSettings {
        TLSServerSettings(
            certificates: tls.certificates.map { TLSCertificateFiles(cert: $0.cert.path, key: $0.key.path) },
            clientCA: tls.clientCA?.path, requireClientCertificate: tls.requireClientCert,
            minimumTLS13: tls.minVersion == .tls13, alpn: listenerALPN(http2: http2))
    }

    static func clientSettings(_ tls: UpstreamTLSConfig) -> TLSClientSettings {
        TLSClientSettings(
            caBundle: tls.ca?.path,
            clientCertificate: tls.clientCertificate.map { TLSCertificateFiles(cert: $0.cert.path, key: $0.key.path) },
            verify: tls.verify, alpn: ["h2"])
    }

    private static func located(_ error: TLSSetupError, certificates: [TLSCertificatePair], ca: TLSFileReference?,
                                section: ConfigLocation) -> ConfigError {
        switch error.input {
        case .certificate(let index) where index < certificates.count:
            return certificates[index].cert.location.error(error.message)
        case .key(let index) where index < certificates.count:
            return certificates[index].key.location.error(error.message)
        case .caBundle:
            return (ca?.location ?? section).error(error.message)
        default:
            return section.error(error.message)
        }
    }
}

import Glibc

/// Certificates for the TLS unit tests, made with the `openssl` command in a fresh temporary directory (the tests
/// need OpenSSL's command-line tool, which `make test` installs with the library).
final class TestCertificates: Sendable {
    let directory: String

    init() {
        var template = Array("/tmp/grpc-web-proxy-tls-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        let ecKey = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
        run("openssl req -x509 \(ecKey) -days 30 -subj /CN=test-ca -addext basicConstraints=critical,CA:TRUE"
            + " -keyout ca.key -out ca.pem")
        leaf("server", subject: "/CN=localhost", sans: "DNS:localhost,IP:127.0.0.1")
        leaf("sni", subject: "/CN=b.example.test", sans: "DNS:b.example.test,DNS:*.wild.example.test")
        leaf("client", subject: "/O=tests/CN=browser-1", sans: "URI:spiffe://test/browser-1,DNS:client.example.test")
        // A second key, which matches no certificate.
        run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key")
        // Expired: `openssl ca` is the only OpenSSL 3.0 command that dates a certificate in the past.
        run("openssl req -new \(ecKey) -subj /CN=localhost -keyout expired.key -out expired.csr"
            + " && touch index.txt && echo 1000 > serial"
            + " && printf '[ca]\\ndefault_ca=t\\n[t]\\ndatabase=index.txt\\nnew_certs_dir=.\\nserial=serial\\ndefault_md=sha256\\npolicy=p\\n[p]\\ncommonName=supplied\\n' > ca.cnf"
            + " && openssl ca -batch -config ca.cnf -in expired.csr -cert ca.pem -keyfile ca.key -out expired.pem"
            + " -startdate 20200101000000Z -enddate 20200102000000Z -notext")
        run("echo 'not a certificate' > garbage.pem")
    }

    deinit { _ = system("rm -rf '\(directory)'") }

    func path(_ name: String) -> String { directory + "/" + name }

    private func leaf(_ name: String, subject: String, sans: String) {
        run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '\(subject)' -keyout \(name).key -out \(name).csr"
            + " && printf 'subjectAltName=\(sans)\\n' > \(name).ext"
            + " && openssl x509 -req -in \(name).csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile \(name).ext -out \(name).pem")
    }

    private func run(_ command: String) {
        let rc = system("cd '\(directory)' && ( \(command) ) > /dev/null 2>&1")
        precondition(rc == 0, "test certificate command failed: \(command)")
    }
}

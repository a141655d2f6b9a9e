import Glibc

/// TEST-ONLY name resolution override. When the environment variable `GRPC_WEB_PROXY_TEST_HOSTS` names a file
/// in /etc/hosts format (`address name [name...]` per line, `#` comments), a cluster host listed there resolves
/// to exactly the addresses listed for it, in file order, instead of asking DNS. The file is read again on every
/// refresh, so integration tests can give one name several addresses and change them while the proxy runs
/// (the shape of a Kubernetes headless Service scaling up and down). Names not in the file use DNS as usual.
/// Production deployments should leave the variable unset.
struct HostsOverride: Sendable {
    static let environmentVariable = "GRPC_WEB_PROXY_TEST_HOSTS"
    /// The file is tiny in practice; this bounds what a wrong path could make us read.
    static let maxFileBytes = 1 << 20

    let path: String

    static func fromEnvironment() -> HostsOverride? {
        guard let value = getenv(environmentVariable) else { return nil }
        let path = String(cString: value)
        return path.isEmpty ? nil : HostsOverride(path: path)
    }

    /// The address literals listed for `host`, or nil when the file does not mention it or cannot be read.
    func addresses(for host: String) -> [String]? {
        guard let text = readFile() else { return nil }
        var found: [String] = []
        for rawLine in text.split(separator: "\n") {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard fields.count >= 2 else { continue }
            if fields.dropFirst().contains(where: { $0 == host }) { found.append(String(fields[0])) }
        }
        return found.isEmpty ? nil : found
    }

    private func readFile() -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < HostsOverride.maxFileBytes {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

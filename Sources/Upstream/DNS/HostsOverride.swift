import Glibc
import EventLoop

/// TEST-ONLY name resolution override. When the proxy is started with the hidden option `--test-hosts FILE`, a
/// cluster host listed in FILE (/etc/hosts format: `address name [name...]` per line, `#` comments) resolves to
/// exactly the addresses listed for it, in file order, instead of asking DNS. The file is read again on every
/// refresh, so integration tests can give one name several addresses and change them while the proxy runs
/// (the shape of a Kubernetes headless Service scaling up and down). Names not in the file use DNS as usual.
///
/// Why an option and not an environment variable (as it once was): environment reaches a process from many
/// places a deployment does not review line by line (a ConfigMap `envFrom`, a systemd drop-in, an inherited
/// shell), and this override silently redirects upstream traffic. A command-line option is visible in the
/// manifest and in `ps`, and production command lines never carry it. It works in every build, so the
/// integration suite runs unchanged against release and sanitizer builds.
struct HostsOverride: Sendable {
    /// Named in the resolver's "overrides are active" warning.
    static let environmentVariable = "--test-hosts"
    /// The file is tiny in practice; this bounds what a wrong path could make us read.
    static let maxFileBytes = 1 << 20

    /// Set once by the command line before any worker or resolver exists.
    fileprivate static let enabledPath = Locked<String?>(nil)

    let path: String

    /// The override enabled with `--test-hosts`, if any. (The name predates the option; it no longer reads the
    /// environment.)
    static func fromEnvironment() -> HostsOverride? {
        guard let path = enabledPath.withLock({ $0 }), !path.isEmpty else { return nil }
        return HostsOverride(path: path)
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

/// The public switch for the test-only hosts override (see `HostsOverride`); only the `--test-hosts` option calls it.
public enum TestHostsOverride {
    public static func enable(path: String) {
        HostsOverride.enabledPath.withLock { $0 = path }
    }
}

import Upstream

/// `--test-hosts FILE` (hidden option): resolve cluster host names from FILE instead of DNS. TEST-ONLY; see
/// `HostsOverride` for why this is an option rather than an environment variable.
public func enableTestHostsOverride(path: String) {
    TestHostsOverride.enable(path: path)
}

import Config
import CProxyLinux
import EventLoop

/// Every connection is a file descriptor. When `limits.max_connections` is above RLIMIT_NOFILE the descriptor
/// limit, not the configured one, decides how many clients are served; say so at start instead of letting it
/// show up as refused connections under load.
enum OpenFileLimit {
    static func warnIfBelow(config: ProxyConfig) {
        let limit = CProxyLinux_open_file_limit()
        guard limit >= 0 else { return }
        let wanted = config.limits.maxConnections
        if Int64(wanted) > limit {
            Log.warn("server", "limits.max_connections is \(wanted) but the open-file limit (RLIMIT_NOFILE, ulimit -n) is \(limit): "
                + "at most about \(limit) connections (browser, upstream and admin together) can be open; raise the limit "
                + "(systemd LimitNOFILE=, docker --ulimit nofile=) or lower max_connections. Connections past it are "
                + "closed at accept.")
        }
    }
}

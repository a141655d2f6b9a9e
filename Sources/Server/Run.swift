public import Config
import CProxyLinux
import EventLoop
import Glibc

/// Runs the proxy until SIGTERM/SIGINT, then drains. Returns the process exit code.
/// - Parameter loadConfig: reads the config file again, for reloads.
public func runProxy(config: ProxyConfig, tls: TLSMaterial, logLevel: LogLevel,
                     loadConfig: (@Sendable () throws(ConfigError) -> ProxyConfig)? = nil) -> Int32 {
    Log.level = Log.Level(rawValue: logLevel.rawValue) ?? .info
    CProxyLinux_ignore_sigpipe()
    // Block the signals before any worker thread exists, so every thread inherits the mask and only the
    // main thread's sigwait receives them.
    for s in [SIGTERM, SIGINT, SIGHUP, SIGUSR1] { _ = CProxyLinux_block_signal(s) }
    let server = ProxyServer(config: config, tls: tls, loadConfig: loadConfig)
    do {
        try server.start()
    } catch {
        Log.error("server", "cannot start: \(error)")
        return 1
    }
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGTERM)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGHUP)
    sigaddset(&set, SIGUSR1)
    while true {
        var sig: Int32 = 0
        if sigwait(&set, &sig) != 0 { continue }
        if sig == SIGHUP {
            // The whole config, TLS files included (cert-manager and ACME clients renew certificates in place).
            server.reload()
            continue
        }
        if sig == SIGUSR1 {
            // logrotate renamed the access log: write what is buffered to it, then open the path again.
            server.reopenAccessLog()
            continue
        }
        break
    }
    Log.info("server", "signal received: draining for up to \(config.drainTimeout)")
    server.drain()
    let clean = server.waitForDrain(timeout: config.drainTimeout)
    if !clean { Log.warn("server", "drain timeout: closing \(server.stats.downstreamConnectionsActive.load()) connection(s)") }
    server.stop()
    Log.info("server", "stopped")
    return 0
}

// grpc-web-proxy: command-line entry point. Parses arguments, loads the config and hands over to Server.
import Config
import Glibc
import Server

let version = "0.1.0"

let usage = """
grpc-web-proxy \(version): a gRPC-Web and grpc-websockets to native gRPC (HTTP/2) proxy.

Usage:
  grpc-web-proxy --config FILE [--log-level LEVEL]   run the proxy
  grpc-web-proxy --validate --config FILE            check the config and exit 0 (valid) or 1 (with the error)
  grpc-web-proxy --probe HOST:PORT/PATH              GET an admin path; exit 0 on a 2xx answer, 1 otherwise
                                                     (a Kubernetes exec probe for a loopback-only admin endpoint)
  grpc-web-proxy --version                           print the version
  grpc-web-proxy --help                              print this help

Options:
  -c, --config FILE      YAML config file (see config/reference.yaml for every option)
      --validate         only validate the config
      --log-level LEVEL  trace | debug | info | warn | error (overrides log_level in the config)

Signals: SIGTERM or SIGINT drain gracefully (stop accepting, finish in-flight calls up to drain_timeout, exit 0).
"""

func fail(_ message: String, code: Int32 = 2) -> Never {
    var line = Array("grpc-web-proxy: \(message)\n".utf8)
    _ = line.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    exit(code)
}

var configPath: String?
var validateOnly = false
var logLevelOverride: String?
var probeTarget: String?
/// Hidden (not in --help): TEST-ONLY resolver override for the integration suite; see `HostsOverride`.
var testHostsFile: String?
var args = CommandLine.arguments.dropFirst()
while let arg = args.popFirst() {
    switch arg {
    case "-h", "--help":
        print(usage)
        exit(0)
    case "--version":
        print("grpc-web-proxy \(version)")
        exit(0)
    case "--validate":
        validateOnly = true
    case "-c", "--config":
        guard let v = args.popFirst() else { fail("\(arg) needs a file name") }
        configPath = v
    case "--log-level":
        guard let v = args.popFirst() else { fail("--log-level needs a level") }
        logLevelOverride = v
    case "--probe":
        guard let v = args.popFirst() else { fail("--probe needs HOST:PORT/PATH") }
        probeTarget = v
    case "--test-hosts":
        guard let v = args.popFirst() else { fail("--test-hosts needs a file name") }
        testHostsFile = v
    default:
        if arg.hasPrefix("--config=") { configPath = String(arg.dropFirst("--config=".count)); continue }
        if arg.hasPrefix("--log-level=") { logLevelOverride = String(arg.dropFirst("--log-level=".count)); continue }
        fail("unknown argument \"\(arg)\"\n\n\(usage)")
    }
}

if let probeTarget { exit(probeAdmin(probeTarget)) }

// Checked before the config so a typo fails `--validate` too, as a usage error like any other bad argument.
var levelOverride: LogLevel?
if let name = logLevelOverride {
    guard let level = LogLevel(name: name) else {
        fail("unknown log level \"\(name)\" for --log-level (expected trace, debug, info, warn or error)")
    }
    levelOverride = level
}

guard let configPath else { fail("missing --config FILE\n\n\(usage)") }

var environment: [String: String] = [:]
var envp = environ
while let entry = envp.pointee {
    let s = String(cString: entry)
    if let eq = s.firstIndex(of: "=") { environment[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
    envp += 1
}

let config: ProxyConfig
let tls: TLSMaterial
do {
    config = try ConfigLoader.load(path: configPath, environment: environment)
    // Certificates, keys and CA bundles are read now, so `--validate` catches a bad file too.
    tls = try TLSMaterial.load(config)
} catch {
    fail("invalid config: \(error)", code: 1)
}
if validateOnly {
    print("\(configPath): OK (\(config.listeners.count) listener(s), \(config.clusters.count) cluster(s), \(config.workers) worker(s))")
    exit(0)
}

if let testHostsFile { enableTestHostsOverride(path: testHostsFile) }
let reloadPath = configPath
let reloadEnvironment = environment
exit(runProxy(config: config, tls: tls, logLevel: levelOverride ?? config.logLevel) { () throws(ConfigError) -> ProxyConfig in
    try ConfigLoader.load(path: reloadPath, environment: reloadEnvironment)
})

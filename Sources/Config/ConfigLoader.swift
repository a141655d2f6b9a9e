internal import YAML
internal import Glibc

/// Entry points: text or file in, validated `ProxyConfig` out, or the first problem found.
public enum ConfigLoader {
    /// Largest config file read; far above any real config, it only stops a wrong path
    /// (a device, a huge log) from being read into memory.
    public static let maxFileSize = 64 * 1024 * 1024

    /// Reads and parses a file. `${VAR}` references are resolved from `environment`
    /// (pass the process environment from the executable).
    public static func load(path: String, environment: [String: String]) throws(ConfigError) -> ProxyConfig {
        let text = try readFile(path)
        return try parse(text, file: path, environment: environment)
    }

    /// Parses config text. `file` names the text in error messages, and its directory is where relative file
    /// paths (certificates, keys, CA bundles) are taken from; a bare name such as `test.yaml` means the current
    /// directory.
    public static func parse(_ text: String, file: String, environment: [String: String] = [:]) throws(ConfigError) -> ProxyConfig {
        let root: YAMLNode
        do {
            root = try YAMLParser.parse(text, environment: environment)
        } catch {
            throw ConfigError(file: file, line: error.line, column: error.column, path: "", message: error.message)
        }
        var config = try ProxyConfig(decoding: ConfigNode(node: root, path: "", file: file))
        config.redactedYAML = RedactedYAML.render(root)
        return config
    }

    static func readFile(_ path: String) throws(ConfigError) -> String {
        func failure(_ what: String) -> ConfigError {
            ConfigError(file: path, line: 0, column: 0, path: "", message: what)
        }
        guard let file = fopen(path, "rb") else {
            throw failure("cannot open: \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if count > 0 { bytes.append(contentsOf: chunk[..<count]) }
            if bytes.count > maxFileSize { throw failure("file is larger than \(maxFileSize) bytes") }
            if count < chunk.count {
                if ferror(file) != 0 { throw failure("cannot read: \(String(cString: strerror(errno)))") }
                break
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw failure("file is not valid UTF-8")
        }
        return text
    }
}

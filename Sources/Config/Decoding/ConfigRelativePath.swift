internal import Glibc

/// Turns a file path written in the config (certificate, key, CA bundle) into one that opens the same file
/// wherever the process runs from: a relative path is taken from the directory of the config file, not from the
/// current directory, so `cert: certs/server.pem` next to the config works whatever directory the proxy is
/// started in. Config text that did not come from a file (a bare name such as `test.yaml`) counts as being in the
/// current directory. The result is absolute, so later re-reads (SIGHUP rotation) open the same file even if the
/// working directory were to change.
enum ConfigRelativePath {
    /// - Parameters:
    ///   - path: as written in the config; never empty.
    ///   - configFile: the config file's path as given to the loader (relative or absolute).
    static func resolve(_ path: String, configFile: String) -> String {
        if path.hasPrefix("/") { return tidy(path) }
        var base = directory(of: configFile)
        if !base.hasPrefix("/") { base = currentDirectory() + "/" + base }
        return tidy(base + "/" + path)
    }

    /// Everything before the last `/`; "" for a bare name, "/" for a file in the root.
    static func directory(of file: String) -> String {
        guard let slash = file.lastIndex(of: "/") else { return "" }
        return slash == file.startIndex ? "/" : String(file[..<slash])
    }

    /// Drops empty and `.` components so messages show `/etc/proxy/certs/a.pem` rather than
    /// `/etc/proxy/./certs//a.pem`. `..` is kept: removing it lexically would be wrong across a symlink.
    static func tidy(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        return "/" + parts.joined(separator: "/")
    }

    static func currentDirectory() -> String {
        guard let pointer = getcwd(nil, 0) else { return "/" }
        defer { free(pointer) }
        return String(cString: pointer)
    }
}

public import Config

/// What a live reload may change, and what it compares.
enum ConfigReload {
    /// A reload switches listeners, routes, CORS, limits, TLS and clusters on the running workers. The number of
    /// workers, the admin address and the access log need a restart: a reload that changes them is refused as a
    /// whole, so the running config stays in force.
    static func checkReloadable(from old: ProxyConfig, to new: ProxyConfig) throws(ConfigError) {
        func refuse(_ what: String) -> ConfigError {
            ConfigError(file: "", line: 0, column: 0, path: "", message: "\(what) cannot change without a restart; nothing was reloaded")
        }
        if old.workers != new.workers { throw refuse("workers (\(old.workers) → \(new.workers))") }
        if old.admin?.address.description != new.admin?.address.description { throw refuse("the admin address") }
        if old.accessLog != new.accessLog { throw refuse("access_log") }
    }

    /// Listeners a reload opens and closes. A listener is the same when its name and address are: it keeps its
    /// sockets (no refused connection). One whose address changed is closed and opened again (a move).
    struct ListenerChange: Sendable {
        /// New listeners and moved ones (their new address).
        var added: [ListenerConfig] = []
        /// Names of removed listeners and of moved ones (their old sockets close and their connections drain).
        var removed: Set<String> = []

        init(from old: ProxyConfig, to new: ProxyConfig) {
            let before = Dictionary(old.listeners.map { ($0.name, "\($0.address)") }, uniquingKeysWith: { a, _ in a })
            let after = Dictionary(new.listeners.map { ($0.name, "\($0.address)") }, uniquingKeysWith: { a, _ in a })
            added = new.listeners.filter { before[$0.name] != after[$0.name] }
            removed = Set(old.listeners.filter { after[$0.name] != before[$0.name] }.map(\.name))
        }

        /// For the reload's log line and answer.
        var summary: String {
            let addedNames = Set(added.map(\.name))
            let moved = addedNames.intersection(removed)
            var parts: [String] = []
            let opened = addedNames.subtracting(moved), closed = removed.subtracting(moved)
            if !opened.isEmpty { parts.append("listeners opened: " + opened.sorted().joined(separator: ", ")) }
            if !moved.isEmpty { parts.append("listeners moved: " + moved.sorted().joined(separator: ", ")) }
            if !closed.isEmpty { parts.append("listeners closed (draining): " + closed.sorted().joined(separator: ", ")) }
            return parts.isEmpty ? "" : "; " + parts.joined(separator: "; ")
        }
    }

    /// A listener a reload cannot open, named by its key path in the new file.
    static func listenerError(_ listener: ListenerConfig, in config: ProxyConfig, _ message: String) -> ConfigError {
        let index = config.listeners.firstIndex { $0.name == listener.name } ?? 0
        return ConfigError(file: "", line: 0, column: 0, path: "listeners[\(index)].address",
                           message: "listener \(listener.name): \(message); nothing was reloaded")
    }

    /// Clusters that are new or whose settings differ: they get a new pool. The others keep theirs, with their
    /// connections, health and outlier state. Where a setting was written in the file does not count.
    static func changedClusters(from old: ProxyConfig, to new: ProxyConfig) -> Set<String> {
        let before = Dictionary(old.clusters.map { ($0.name, settingsKey($0)) }, uniquingKeysWith: { a, _ in a })
        var changed: Set<String> = []
        for cluster in new.clusters where before[cluster.name] != settingsKey(cluster) { changed.insert(cluster.name) }
        return changed
    }

    /// A cluster's settings as text, with the file positions of its TLS file references blanked.
    static func settingsKey(_ cluster: ClusterConfig) -> String {
        var c = cluster
        if var tls = c.tls {
            let nowhere = ConfigLocation(file: "", line: 0, column: 0, path: "")
            tls.location = nowhere
            tls.ca?.location = nowhere
            tls.clientCertificate?.cert.location = nowhere
            tls.clientCertificate?.key.location = nowhere
            c.tls = tls
        }
        return String(describing: c)
    }

    /// FNV-1a of the config's text form: shown in /metrics so an operator can see which config is running.
    static func hash(_ config: ProxyConfig) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in String(describing: config).utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }
}

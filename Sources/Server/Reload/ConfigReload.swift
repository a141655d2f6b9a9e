public import Config

/// What a live reload may change, and what it compares.
enum ConfigReload {
    /// A reload switches routes, CORS, limits, TLS and clusters on the running workers. The number of workers, the
    /// admin address, the access log and the set of listening sockets (names and addresses) need a restart: a reload that changes
    /// them is refused as a whole, so the running config stays in force.
    static func checkReloadable(from old: ProxyConfig, to new: ProxyConfig) throws(ConfigError) {
        func refuse(_ what: String) -> ConfigError {
            ConfigError(file: "", line: 0, column: 0, path: "", message: "\(what) cannot change without a restart; nothing was reloaded")
        }
        if old.workers != new.workers { throw refuse("workers (\(old.workers) → \(new.workers))") }
        if old.admin?.address.description != new.admin?.address.description { throw refuse("the admin address") }
        if old.accessLog != new.accessLog { throw refuse("access_log") }
        let before = old.listeners.map { "\($0.name)@\($0.address)" }.sorted()
        let after = new.listeners.map { "\($0.name)@\($0.address)" }.sorted()
        if before != after {
            throw refuse("the listeners' names and addresses (\(before.joined(separator: ", ")) → \(after.joined(separator: ", ")))")
        }
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

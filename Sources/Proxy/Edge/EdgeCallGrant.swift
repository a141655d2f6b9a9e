/// An admitted call's obligations, collected by the edge stages and carried by the call: header edits upstream
/// and downstream, the claims of a verified token, and what to release when the call ends (a concurrency slot).
///
/// A struct whose arrays stay empty (no allocation) for a route without rules: the common path costs nothing.
struct EdgeCallGrant {
    /// Claims of the verified JWT, flattened to strings (set by the JWT stage; read by rate limits and header
    /// variables). Empty when the call carried no token or the route checks none.
    var claims: [String: String] = [:]
    /// Applied in order to the upstream request headers after translation (client copies removed, claims and
    /// rule headers added).
    var upstreamEdits: [HeaderEdit] = []
    /// Applied to the response headers sent to the client (and to a trailers-only answer).
    var responseHeaderEdits: [HeaderEdit] = []
    /// Applied to the trailers sent to the client (and to a trailers-only answer).
    var responseTrailerEdits: [HeaderEdit] = []
    /// Run once when the call ends, however it ends.
    private var releases: [() -> Void] = []

    mutating func onFinish(_ release: @escaping () -> Void) { releases.append(release) }

    /// Releases what the call held (idempotent).
    mutating func finish() {
        guard !releases.isEmpty else { return }
        let pending = releases
        releases = []
        for release in pending { release() }
    }

    func applyUpstream(to headers: inout [(String, String)]) {
        for edit in upstreamEdits { edit.apply(to: &headers) }
    }

    /// `trailersOnly`: one block that is both the headers and the trailers.
    func applyResponseHeaders(to fields: inout [(String, String)], trailersOnly: Bool = false) {
        for edit in responseHeaderEdits { edit.apply(to: &fields) }
        if trailersOnly { for edit in responseTrailerEdits { edit.apply(to: &fields) } }
    }

    func applyResponseTrailers(to fields: inout [(String, String)]) {
        for edit in responseTrailerEdits { edit.apply(to: &fields) }
    }
}

/// One change to a header block. Names are lower-case.
enum HeaderEdit: Equatable {
    /// Appends a field (another value if the name is there already).
    case add(String, String)
    /// Replaces every field of this name with one (adds it when absent).
    case set(String, String)
    /// Removes every field of this name.
    case remove(String)

    func apply(to fields: inout [(String, String)]) {
        switch self {
        case .add(let name, let value):
            fields.append((name, value))
        case .set(let name, let value):
            fields.removeAll { $0.0 == name }
            fields.append((name, value))
        case .remove(let name):
            fields.removeAll { $0.0 == name }
        }
    }
}

/// An ordered list of header fields, in wire order.
///
/// Names keep the case they were received or added with, so they can be forwarded unchanged;
/// every lookup compares names ASCII case-insensitively, because HTTP field names are
/// case-insensitive (RFC 9110 §5.1). Lookups are linear scans: a request carries few fields and
/// a scan over a small array beats hashing every name on the hot path.
public struct HTTPHeaders: Sendable, Sequence, Equatable {
    public typealias Element = (name: String, value: String)

    public private(set) var fields: [(name: String, value: String)]

    public init() {
        fields = []
    }

    public init(_ fields: [(String, String)]) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    init(reservingCapacity capacity: Int) {
        fields = []
        fields.reserveCapacity(capacity)
    }

    public var count: Int { fields.count }

    public var isEmpty: Bool { fields.isEmpty }

    public mutating func add(name: String, value: String) {
        fields.append((name: name, value: value))
    }

    /// The first value of `name`, or nil.
    public subscript(name: String) -> String? {
        for field in fields where ASCII.equalsIgnoringCase(field.name, name) {
            return field.value
        }
        return nil
    }

    /// Every value of `name`, in wire order.
    public func values(_ name: String) -> [String] {
        fields.lazy.filter { ASCII.equalsIgnoringCase($0.name, name) }.map(\.value)
    }

    public func contains(_ name: String) -> Bool {
        fields.contains { ASCII.equalsIgnoringCase($0.name, name) }
    }

    /// True if any `name` field, read as a comma-separated list, has an element equal to `token`
    /// (both compared ASCII case-insensitively, whitespace around elements ignored).
    /// Example: `Connection: keep-alive, Upgrade` contains the token "upgrade".
    public func containsToken(_ name: String, _ token: String) -> Bool {
        fields.contains { ASCII.equalsIgnoringCase($0.name, name) && ASCII.listContainsToken($0.value, token) }
    }

    /// Removes every field named `name`.
    public mutating func remove(_ name: String) {
        fields.removeAll { ASCII.equalsIgnoringCase($0.name, name) }
    }

    /// Replaces every `name` field with a single one (appended at the end).
    public mutating func replaceOrAdd(name: String, value: String) {
        remove(name)
        add(name: name, value: value)
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }

    /// Exact equality: same fields, same order, same case.
    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

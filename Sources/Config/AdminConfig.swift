/// The admin endpoint (readiness, metrics, config dump). Absent from the file = no admin listener.
public struct AdminConfig: Sendable {
    public var address: SocketAddressSpec

    public init(address: SocketAddressSpec) {
        self.address = address
    }
}

/// An IP address assigned to an interface.
///
/// The kernel counterpart is `RTM_NEWADDR` (`struct ifaddrmsg`, `IFA_LOCAL`, `IFA_ADDRESS`,
/// `IFA_LABEL`, `IFA_FLAGS`).
public struct InterfaceAddress: Hashable, Sendable {
    public var key: Key
    /// `IFA_ADDRESS` when it differs from the local address (the peer of a point-to-point link).
    public var peer: IPAddress?
    /// `ifa_scope` (`RT_SCOPE_*`).
    public var scope: RouteScope
    /// `IFA_FLAGS` (`IFA_F_*`).
    public var flags: UInt32
    public var label: String?

    /// The identity: interface, local address and prefix length.
    public struct Key: Hashable, Sendable, Comparable {
        public var interface: IfIndex
        public var local: IPAddress
        public var prefixLength: UInt8
        public init(interface: IfIndex, local: IPAddress, prefixLength: UInt8) {
            self.interface = interface
            self.local = local
            self.prefixLength = prefixLength
        }
        public static func < (a: Key, b: Key) -> Bool {
            (a.interface, a.local, a.prefixLength) < (b.interface, b.local, b.prefixLength)
        }
    }

    public init(key: Key, peer: IPAddress? = nil, scope: RouteScope = .universe, flags: UInt32 = 0, label: String? = nil) {
        self.key = key
        self.peer = peer
        self.scope = scope
        self.flags = flags
        self.label = label
    }

    public var family: AddressFamily { key.local.family }
}

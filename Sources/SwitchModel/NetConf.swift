/// The per-device IP settings the kernel announces over netconf, one entry per family and
/// device plus `all` and `default` — what `ip netconf show` prints.
///
/// The kernel counterpart is `RTM_NEWNETCONF` / `RTM_DELNETCONF` (`struct netconfmsg`,
/// `NETCONFA_*`), sent to `RTNLGRP_IPV4_NETCONF` / `RTNLGRP_IPV6_NETCONF` whenever
/// `net.ipv4.conf.IF.*` / `net.ipv6.conf.IF.*` change (and when a device gets or loses its
/// `in_device` / `inet6_dev`). A notification carries only the attribute that changed;
/// nil fields were not in the message.
public struct NetConf: Hashable, Sendable {
    public struct Key: Hashable, Sendable, Comparable {
        public var family: AddressFamily
        public var scope: NetConfScope
        public init(family: AddressFamily, scope: NetConfScope) {
            self.family = family
            self.scope = scope
        }
        public static func < (a: Key, b: Key) -> Bool { (a.family.rawValue, a.scope) < (b.family.rawValue, b.scope) }
    }

    public var key: Key
    /// `NETCONFA_FORWARDING`: `net.ipv4.conf.IF.forwarding` (`all` is `net.ipv4.ip_forward`),
    /// `net.ipv6.conf.IF.forwarding`.
    public var forwarding: Bool?
    /// `NETCONFA_RP_FILTER` (IPv4 only): 0 off, 1 strict, 2 loose.
    public var rpFilter: UInt32?
    /// `NETCONFA_MC_FORWARDING` (read-only; a multicast routing daemon sets it).
    public var mcForwarding: Bool?
    /// `NETCONFA_PROXY_NEIGH`: `proxy_arp` / `proxy_ndp`.
    public var proxyNeighbor: Bool?
    /// `NETCONFA_IGNORE_ROUTES_WITH_LINKDOWN`.
    public var ignoreRoutesWithLinkdown: Bool?

    public init(key: Key, forwarding: Bool? = nil, rpFilter: UInt32? = nil, mcForwarding: Bool? = nil,
                proxyNeighbor: Bool? = nil, ignoreRoutesWithLinkdown: Bool? = nil) {
        self.key = key
        self.forwarding = forwarding
        self.rpFilter = rpFilter
        self.mcForwarding = mcForwarding
        self.proxyNeighbor = proxyNeighbor
        self.ignoreRoutesWithLinkdown = ignoreRoutesWithLinkdown
    }

    /// `self` with the fields `update` carries replacing these: how a partial notification
    /// (one attribute) applies to the entry a dump gave.
    public func merging(_ update: NetConf) -> NetConf {
        var out = self
        out.forwarding = update.forwarding ?? forwarding
        out.rpFilter = update.rpFilter ?? rpFilter
        out.mcForwarding = update.mcForwarding ?? mcForwarding
        out.proxyNeighbor = update.proxyNeighbor ?? proxyNeighbor
        out.ignoreRoutesWithLinkdown = update.ignoreRoutesWithLinkdown ?? ignoreRoutesWithLinkdown
        return out
    }
}

/// Which settings a netconf entry describes: one device, or the `all` / `default` sets.
///
/// The kernel counterpart is `NETCONFA_IFINDEX`: an ifindex, `NETCONFA_IFINDEX_ALL` (−1)
/// or `NETCONFA_IFINDEX_DEFAULT` (−2).
public enum NetConfScope: Hashable, Sendable, Comparable, CustomStringConvertible {
    case all
    case `default`
    case interface(IfIndex)

    /// From the `NETCONFA_IFINDEX` value; nil for a value that is none of the three.
    public init?(ifindex: Int32) {
        switch ifindex {
        case -1: self = .all
        case -2: self = .default
        case 1...: self = .interface(IfIndex(UInt32(ifindex)))
        default: return nil
        }
    }

    /// The `NETCONFA_IFINDEX` value.
    public var ifindex: Int32 {
        switch self {
        case .all: -1
        case .default: -2
        case .interface(let i): Int32(bitPattern: i.rawValue)
        }
    }

    public var description: String {
        switch self {
        case .all: "all"
        case .default: "default"
        case .interface(let i): "ifindex \(i)"
        }
    }

    public static func < (a: NetConfScope, b: NetConfScope) -> Bool { a.ifindex < b.ifindex }
}

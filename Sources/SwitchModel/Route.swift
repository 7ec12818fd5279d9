/// An IPv4 or IPv6 route.
///
/// The kernel counterpart is `RTM_NEWROUTE` (`struct rtmsg` with `RTA_DST`, `RTA_TABLE`,
/// `RTA_PRIORITY`, `RTA_GATEWAY`, `RTA_OIF`, `RTA_MULTIPATH`, `RTA_NH_ID`, `RTA_PREFSRC`).
/// The kernel identifies a route by table, destination, TOS and metric; ``key`` holds those.
public struct Route: Hashable, Sendable {
    public var key: Key
    /// `rtm_type` (`RTN_*`).
    public var type: RouteType
    /// `rtm_protocol` (`RTPROT_*`): who installed the route.
    public var protocolID: RouteProtocol
    /// `rtm_scope` (`RT_SCOPE_*`).
    public var scope: RouteScope
    /// `rtm_flags` (`RTM_F_OFFLOAD`, `RTM_F_TRAP`, `RTM_F_OFFLOAD_FAILED`, …).
    public var flags: UInt32
    /// `RTA_PREFSRC`.
    public var preferredSource: IPAddress?
    /// `RTA_NH_ID`: the nexthop object (`ip nexthop`) the route uses, if any.
    public var nexthopID: UInt32?
    /// The paths: one for a single-path route, several for ECMP (`RTA_MULTIPATH`), none for
    /// routes without a gateway or device (blackhole, unreachable) or those that use ``nexthopID``.
    public var nexthops: [RouteNexthop]

    /// The identity of a route in the kernel's FIB.
    public struct Key: Hashable, Sendable, Comparable {
        public var table: RouteTable
        public var destination: IPPrefix
        public var tos: UInt8
        /// `RTA_PRIORITY` (iproute2's `metric`).
        public var metric: UInt32
        /// The device of an IPv6 route without a gateway: IPv6 keeps one such route per device
        /// for the same prefix and metric (`fe80::/64` on every interface). Nil otherwise.
        public var interface: IfIndex?

        public init(table: RouteTable = .main, destination: IPPrefix, tos: UInt8 = 0, metric: UInt32 = 0, interface: IfIndex? = nil) {
            self.table = table
            self.destination = destination
            self.tos = tos
            self.metric = metric
            self.interface = interface
        }

        public var family: AddressFamily { destination.family }

        public static func < (a: Key, b: Key) -> Bool {
            (a.destination.family.rawValue, a.table, a.destination, a.metric, a.interface?.rawValue ?? 0)
                < (b.destination.family.rawValue, b.table, b.destination, b.metric, b.interface?.rawValue ?? 0)
        }
    }

    public init(key: Key, type: RouteType = .unicast, protocolID: RouteProtocol = .boot,
                scope: RouteScope = .universe, flags: UInt32 = 0, preferredSource: IPAddress? = nil,
                nexthopID: UInt32? = nil, nexthops: [RouteNexthop] = []) {
        self.key = key
        self.type = type
        self.protocolID = protocolID
        self.scope = scope
        self.flags = flags
        self.preferredSource = preferredSource
        self.nexthopID = nexthopID
        self.nexthops = nexthops
    }

    /// `RTM_F_OFFLOAD`: the route is in hardware.
    public static let flagOffload: UInt32 = 0x4000
    /// `RTM_F_TRAP`: the route traps to the CPU.
    public static let flagTrap: UInt32 = 0x8000
    /// `RTM_F_OFFLOAD_FAILED`: the driver could not program the route.
    public static let flagOffloadFailed: UInt32 = 0x2000_0000
}

/// One path of a route.
///
/// The kernel counterpart is a `struct rtnexthop` inside `RTA_MULTIPATH`, or the route's own
/// `RTA_GATEWAY` / `RTA_OIF` for a single path.
public struct RouteNexthop: Hashable, Sendable {
    public var gateway: IPAddress?
    public var interface: IfIndex?
    /// The ECMP weight, 1…256 (the kernel sends `rtnh_hops` = weight − 1).
    public var weight: UInt16
    /// `rtnh_flags` (`RTNH_F_DEAD`, `RTNH_F_ONLINK`, `RTNH_F_LINKDOWN`, `RTNH_F_OFFLOAD`, `RTNH_F_TRAP`).
    public var flags: UInt8

    public init(gateway: IPAddress? = nil, interface: IfIndex? = nil, weight: UInt16 = 1, flags: UInt8 = 0) {
        self.gateway = gateway
        self.interface = interface
        self.weight = weight
        self.flags = flags
    }

    /// iproute2's names for the `RTNH_F_*` bits, in its order.
    public var flagNames: [String] {
        var out: [String] = []
        if flags & 0x01 != 0 { out.append("dead") }
        if flags & 0x02 != 0 { out.append("pervasive") }
        if flags & 0x04 != 0 { out.append("onlink") }
        if flags & 0x08 != 0 { out.append("offload") }
        if flags & 0x40 != 0 { out.append("trap") }
        if flags & 0x10 != 0 { out.append("linkdown") }
        if flags & 0x20 != 0 { out.append("unresolved") }
        return out
    }
}

/// `rtm_type` (`RTN_*`).
public struct RouteType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let unicast = RouteType(rawValue: 1)
    public static let local = RouteType(rawValue: 2)
    public static let broadcast = RouteType(rawValue: 3)
    public static let anycast = RouteType(rawValue: 4)
    public static let multicast = RouteType(rawValue: 5)
    public static let blackhole = RouteType(rawValue: 6)
    public static let unreachable = RouteType(rawValue: 7)
    public static let prohibit = RouteType(rawValue: 8)
    public static let `throw` = RouteType(rawValue: 9)
    public static let nat = RouteType(rawValue: 10)

    /// iproute2's spelling.
    public var description: String {
        let names = ["unspec", "unicast", "local", "broadcast", "anycast", "multicast", "blackhole",
                     "unreachable", "prohibit", "throw", "nat", "xresolve"]
        return Int(rawValue) < names.count ? names[Int(rawValue)] : String(rawValue)
    }
}

/// `rtm_protocol` (`RTPROT_*`): the originator of a route.
public struct RouteProtocol: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let redirect = RouteProtocol(rawValue: 1)
    public static let kernel = RouteProtocol(rawValue: 2)
    public static let boot = RouteProtocol(rawValue: 3)
    public static let `static` = RouteProtocol(rawValue: 4)
    public static let zebra = RouteProtocol(rawValue: 11)
    public static let bgp = RouteProtocol(rawValue: 186)

    /// iproute2's names from `/etc/iproute2/rt_protos` and its built-in table.
    public var description: String {
        switch rawValue {
        case 0: "unspec"
        case 1: "redirect"
        case 2: "kernel"
        case 3: "boot"
        case 4: "static"
        case 8: "gated"
        case 9: "ra"
        case 10: "mrt"
        case 11: "zebra"
        case 12: "bird"
        case 13: "dnrouted"
        case 14: "xorp"
        case 15: "ntk"
        case 16: "dhcp"
        case 18: "keepalived"
        case 42: "babel"
        case 99: "openr"
        case 186: "bgp"
        case 187: "isis"
        case 188: "ospf"
        case 189: "rip"
        case 192: "eigrp"
        default: String(rawValue)
        }
    }
}

/// `rtm_scope` / `ifa_scope` (`RT_SCOPE_*`).
public struct RouteScope: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let universe = RouteScope(rawValue: 0)
    public static let site = RouteScope(rawValue: 200)
    public static let link = RouteScope(rawValue: 253)
    public static let host = RouteScope(rawValue: 254)
    public static let nowhere = RouteScope(rawValue: 255)

    /// iproute2's spelling (`global` for universe).
    public var description: String {
        switch rawValue {
        case 0: "global"
        case 200: "site"
        case 253: "link"
        case 254: "host"
        case 255: "nowhere"
        default: String(rawValue)
        }
    }
}

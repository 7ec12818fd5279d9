import SwitchModel

// The one identity between kernel objects and hardware keys, shared by the stages (which
// map kernel objects to hardware objects) and by drivers that relate the kernel's own
// reports to those objects (the Switchdev driver reads the kernel's offload flags). The
// stages never import drivers and drivers never import the stages: both use these.
//
// Bridge and router-interface ids are kernel ifindexes, kernel nexthop objects keep their
// id, and a route's VRF is its kernel table with the local table folded into main.

extension BridgeID {
    /// The id of the bridge netdev `link` (its ifindex).
    public init(bridge link: IfIndex) { self.init(rawValue: link.rawValue) }
}

extension RouterInterfaceID {
    /// The router interface of the netdev `link` that carries addresses (its ifindex).
    public init(interface link: IfIndex) { self.init(rawValue: link.rawValue) }
}

extension HardwareKey {
    /// `RTM_F_CLONED`: a route-cache entry, not a FIB route.
    public static let routeClonedFlag: UInt32 = 0x200
    /// `RT_TABLE_MAIN`, where local-table addresses are placed.
    public static let mainVRF: UInt32 = 254

    /// The slot (VRF, prefix) a kernel route (`RTM_NEWROUTE`) takes in hardware, or nil for
    /// routes the chip never holds: route-cache clones, IPv6 multicast (ff00::/8) and
    /// link-local (fe80::/64) prefixes, multicast and NAT routes. Local, broadcast and
    /// anycast addresses of the local table go to VRF 254 (main), where the chip looks
    /// them up. Several kernel routes may share a slot (metric, TOS, device).
    public static func routeSlot(of r: Route) -> (vrf: UInt32, prefix: IPPrefix)? {
        guard r.flags & routeClonedFlag == 0 else { return nil }
        let p = r.key.destination
        if p.family == .ipv6 {
            if p.length >= 8, p.address.high >> 56 == 0xFF { return nil }
            if p.length == 64, p.address == IPAddress(high: 0xFE80_0000_0000_0000, low: 0) { return nil }
        }
        switch r.type {
        case .unicast, .blackhole, .unreachable, .prohibit, .throw:
            return (r.key.table.rawValue, p)
        case .local, .broadcast, .anycast:
            return (r.key.table == .local ? mainVRF : r.key.table.rawValue, p)
        default:
            return nil
        }
    }

    /// The route key of a kernel route's slot (`routeSlot(of:)`).
    public static func route(of r: Route) -> HardwareKey? {
        routeSlot(of: r).map { .route(vrf: $0.vrf, $0.prefix) }
    }

    /// The key of a bridge FDB entry (AF_BRIDGE `RTM_NEWNEIGH`) in the bridge `bridge`.
    public static func fdb(of e: FDBEntry, inBridge bridge: IfIndex) -> HardwareKey {
        .fdb(BridgeID(bridge: bridge), e.key.vlan, e.key.mac)
    }

    /// The key of a neighbour (AF_INET/AF_INET6 `RTM_NEWNEIGH`): its interface's router
    /// interface and its address.
    public static func neighbor(of n: Neighbor) -> HardwareKey {
        .neighbor(RouterInterfaceID(interface: n.key.interface), n.key.address)
    }

    /// The group key of a kernel nexthop object (`RTM_NEWNEXTHOP`): a group object, and a
    /// single-path object as a one-member group, keep the object's id.
    public static func nexthopGroup(ofObject id: UInt32) -> HardwareKey {
        .nexthopGroup(NexthopGroupID(rawValue: id))
    }
}

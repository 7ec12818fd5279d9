import SwitchModel

/// Every kind of object a driver programs. The set is closed: drivers, the engine and
/// the renderers switch over all of it.
public enum HardwareObject: Hashable, Sendable, CustomStringConvertible {
    case port(PortSettings)
    case bridge(BridgeSettings)
    case vlanMember(VLANMember)
    case fdb(HardwareFDBEntry)
    case mdb(HardwareMDBEntry)
    case routerInterface(RouterInterface)
    case neighbor(HardwareNeighbor)
    case nexthop(HardwareNexthop)
    case nexthopGroup(HardwareNexthopGroup)
    case route(HardwareRoute)
    case vxlanTunnel(VXLANTunnel)
    case vxlanFlood(VXLANFloodEntry)
    /// A virtual function of an SR-IOV NIC (the SRIOV driver).
    case vf(VFSettings)
    /// A link aggregation group (a bond over chip ports).
    case lag(HardwareLAG)
    /// A port's ingress ACL (tc flower/matchall filters on its ingress hook).
    case acl(HardwarePortACL)

    /// The object's identity: programming an object with the same key replaces it.
    public var key: HardwareKey {
        switch self {
        case .port(let p): .port(p.port)
        case .bridge(let b): .bridge(b.bridge)
        case .vlanMember(let m): .vlanMember(m.bridge, m.port, m.vid)
        case .fdb(let f): .fdb(f.bridge, f.vid, f.mac)
        case .mdb(let m): .mdb(m.bridge, m.vid, m.group)
        case .routerInterface(let r): .routerInterface(r.id)
        case .neighbor(let n): .neighbor(n.rif, n.address)
        case .nexthop(let nh): .nexthop(nh)
        case .nexthopGroup(let g): .nexthopGroup(g.id)
        case .route(let r): .route(vrf: r.vrf, r.prefix)
        case .vxlanTunnel(let t): .vxlanTunnel(t.vni)
        case .vxlanFlood(let f): .vxlanFlood(f.vni, f.remote)
        case .vf(let v): .vf(v.pf, v.index)
        case .lag(let l): .lag(l.id)
        case .acl(let a): .acl(a.port)
        }
    }

    /// The objects that must be in hardware before this one can be programmed: the
    /// engine's dependency order (router interface → nexthop → group → route;
    /// bridge → VLAN member → FDB).
    ///
    /// A nexthop does not need its neighbour to be programmed: without one the chip traps
    /// the traffic ("unresolved"), so the kernel resolves it — see `softDependency`.
    public var dependencies: [HardwareKey] {
        switch self {
        case .port(let p):
            return (p.bridge.map { [.bridge($0)] } ?? []) + (p.port.isLAG ? [.lag(p.port)] : [])
        case .lag(let l):
            return l.members.map { .port($0) }
        case .acl(let a):
            return [.port(a.port)]
        case .bridge:
            return []
        case .vlanMember(let m):
            return [.bridge(m.bridge), .port(m.port)]
        case .fdb(let f):
            switch f.destination {
            case .port(let p): return f.vid == .none ? [.port(p)] : [.vlanMember(f.bridge, p, f.vid)]
            case .tunnel(let vni, _): return [.vxlanTunnel(vni)]
            case .cpu: return [.bridge(f.bridge)]
            }
        case .mdb(let m):
            return [.bridge(m.bridge)]
        case .routerInterface(let r):
            switch r.binding {
            case .port(let p): return [.port(p)]
            case .bridge(let b, _): return [.bridge(b)]
            }
        case .neighbor(let n):
            return [.routerInterface(n.rif)]
        case .nexthop(let nh):
            return [.routerInterface(nh.rif)]
        case .nexthopGroup(let g):
            return g.members.map { .nexthop($0.nexthop) }
        case .route(let r):
            switch r.action {
            case .nexthop(let nh): return [.nexthop(nh)]
            case .group(let g): return [.nexthopGroup(g)]
            case .attached(let rif): return [.routerInterface(rif)]
            case .trap, .drop: return []
            }
        case .vxlanTunnel(let t):
            return [.bridge(t.bridge)]
        case .vxlanFlood(let f):
            return [.vxlanTunnel(f.vni)]
        case .vf(let v):
            return [.port(v.pf)]
        }
    }

    /// An object this one works without, but only through the CPU: a nexthop's
    /// neighbour. Its absence makes the object `trapped`, not unprogrammable.
    public var softDependency: HardwareKey? {
        if case .nexthop(let nh) = self { return .neighbor(nh.rif, nh.gateway) }
        return nil
    }

    /// The hardware table the object occupies, if any.
    public var table: TableKind? { key.table }

    /// How many entries of its table the object takes: a port's ACL one per rule, any
    /// other object one.
    public var tableEntries: Int {
        if case .acl(let a) = self { return a.rules.count }
        return 1
    }

    public var description: String {
        switch self {
        case .port(let p): "\(p.port) \(p.adminUp ? "up" : "down") mtu \(p.mtu)\(p.bridge.map { " master \($0)" } ?? "") state \(p.stpState)" + (p.ingressACL ? " ingress acl" : "")
        case .bridge(let b): "\(b.bridge) vlan_filtering \(b.vlanFiltering ? 1 : 0) ageing \(b.ageingTime)s" + (b.neighborSuppression ? " neigh_suppress" : "")
        case .vlanMember(let m): "vlan \(m.vid) \(m.port)\(m.pvid ? " pvid" : "")\(m.untagged ? " untagged" : "")"
        case .fdb(let f): "fdb \(f.mac) vlan \(f.vid) \(f.destination)\(f.isStatic ? " static" : "")\(f.isSticky ? " sticky" : "")"
        case .mdb(let m): "mdb \(m.group) vlan \(m.vid) ports \(m.ports)"
        case .routerInterface(let r):
            "\(r.id) on \(r.binding) mac \(r.mac)" + (r.vrf == 254 ? "" : " vrf table \(r.vrf)")
                + (r.routedFamilies == .all ? "" : " routes [\(r.routedFamilies)]")
        case .neighbor(let n): "neighbor \(n.address) \(n.rif) lladdr \(n.mac)"
        case .nexthop(let nh): nh.description
        case .nexthopGroup(let g): "\(g.id) " + g.members.map { "\($0.nexthop.gateway)/\($0.weight)" }.joined(separator: ",")
        case .route(let r): "route \(r.prefix) \(r.action)"
        case .vxlanTunnel(let t): "vxlan vni \(t.vni) \(t.bridge) vlan \(t.vid) local \(t.local)"
        case .vxlanFlood(let f): "vxlan vni \(f.vni) flood \(f.remote)"
        case .vf(let v): "vf \(v.index) of \(v.pf) \(v.settingsDescription)"
        case .lag(let l):
            "\(l.id) members \(l.members.map(\.description).joined(separator: ","))"
                + " distributing \(l.distributing.isEmpty ? "none" : l.distributing.map(\.description).joined(separator: ","))"
                + " collecting \(l.collecting.isEmpty ? "none" : l.collecting.map(\.description).joined(separator: ",")) hash \(l.hash)"
        case .acl(let a): "acl \(a.port) " + a.rules.map(\.description).joined(separator: "; ")
        }
    }
}

/// The identity of a hardware object.
public enum HardwareKey: Hashable, Sendable, CustomStringConvertible {
    case port(PortID)
    case bridge(BridgeID)
    case vlanMember(BridgeID, PortID, VLANID)
    case fdb(BridgeID, VLANID, MACAddress)
    case mdb(BridgeID, VLANID, MDBGroup)
    case routerInterface(RouterInterfaceID)
    case neighbor(RouterInterfaceID, IPAddress)
    case nexthop(HardwareNexthop)
    case nexthopGroup(NexthopGroupID)
    case route(vrf: UInt32, IPPrefix)
    case vxlanTunnel(VNI)
    case vxlanFlood(VNI, IPAddress)
    /// A VF: its physical function and number.
    case vf(PortID, UInt32)
    /// A LAG: its logical port.
    case lag(PortID)
    /// A port's ingress ACL.
    case acl(PortID)

    /// The hardware table objects of this kind occupy (ports and bridges occupy none).
    public var table: TableKind? {
        switch self {
        case .port, .bridge: nil
        case .vlanMember: .vlanMembers
        case .fdb: .fdb
        case .mdb: .mdb
        case .routerInterface: .routerInterfaces
        case .neighbor: .neighbors
        case .nexthop: .nexthops
        case .nexthopGroup: .nexthopGroups
        case .route(_, let p): p.family == .ipv4 ? .lpmIPv4 : .lpmIPv6
        case .vxlanTunnel: .vxlanTunnels
        case .vxlanFlood: .vxlanFlood
        case .vf: .vfs
        case .lag: .lags
        case .acl: .acl
        }
    }

    /// How many ranks there are (`rank` is below it).
    public static let rankCount = 9

    /// Dependency rank: programming in ascending rank, removing in descending rank,
    /// never violates a dependency.
    public var rank: Int {
        switch self {
        case .bridge: 0
        case .port(let p): p.isLAG ? 3 : 1       // a LAG's port after the LAG, after its members
        case .lag: 2
        case .vlanMember, .routerInterface, .vxlanTunnel, .vf, .acl: 4
        case .fdb, .mdb, .neighbor, .vxlanFlood: 5
        case .nexthop: 6
        case .nexthopGroup: 7
        case .route: 8
        }
    }

    /// How a person names the object: `route 10.9.0.0/16`, `neighbor 10.0.0.7 rif 5`.
    public var description: String {
        switch self {
        case .port(let p): "port \(p)"
        case .bridge(let b): b.description
        case .vlanMember(let b, let p, let vid): "vlan \(vid) on \(p) (\(b))"
        case .fdb(_, let vid, let mac): vid == .none ? "fdb \(mac)" : "fdb \(mac) vlan \(vid)"
        case .mdb(_, let vid, let g): vid == .none ? "mdb \(g)" : "mdb \(g) vlan \(vid)"
        case .routerInterface(let r): "router interface \(r.rawValue)"
        case .neighbor(let rif, let a): "neighbor \(a) (\(rif))"
        case .nexthop(let nh): "nexthop \(nh.gateway)"
        case .nexthopGroup(let g): g.description
        case .route(let vrf, let p): vrf == 254 ? "route \(p)" : "route \(p) table \(vrf)"
        case .vxlanTunnel(let vni): "vxlan vni \(vni)"
        case .vxlanFlood(let vni, let r): "vxlan vni \(vni) flood \(r)"
        case .vf(let pf, let index): "vf \(index) of \(pf)"
        case .lag(let p): p.description
        case .acl(let p): "acl \(p)"
        }
    }

    /// A route key — hashed half a dozen times on its way from the kernel to the chip, a
    /// million times at full table — is two words to the hasher (the derived hash would be
    /// five fields); other keys are their case and fields. Equal keys hash equally.
    public func hash(into h: inout Hasher) {
        switch self {
        case .route(let vrf, let p):
            h.combine(p.address.low)
            h.combine(p.address.high ^ (UInt64(vrf) << 8 | UInt64(p.length)))
        case .port(let p):
            h.combine(1 as UInt8); h.combine(p)
        case .bridge(let b):
            h.combine(2 as UInt8); h.combine(b)
        case .vlanMember(let b, let p, let vid):
            h.combine(3 as UInt8); h.combine(b); h.combine(p); h.combine(vid)
        case .fdb(let b, let vid, let mac):
            h.combine(4 as UInt8); h.combine(b); h.combine(vid); h.combine(mac)
        case .mdb(let b, let vid, let g):
            h.combine(5 as UInt8); h.combine(b); h.combine(vid); h.combine(g)
        case .routerInterface(let r):
            h.combine(6 as UInt8); h.combine(r)
        case .neighbor(let r, let a):
            h.combine(7 as UInt8); h.combine(r); h.combine(a)
        case .nexthop(let nh):
            h.combine(8 as UInt8); h.combine(nh)
        case .nexthopGroup(let g):
            h.combine(9 as UInt8); h.combine(g)
        case .vxlanTunnel(let vni):
            h.combine(10 as UInt8); h.combine(vni)
        case .vxlanFlood(let vni, let r):
            h.combine(11 as UInt8); h.combine(vni); h.combine(r)
        case .vf(let pf, let index):
            h.combine(12 as UInt8); h.combine(pf); h.combine(index)
        case .lag(let p):
            h.combine(13 as UInt8); h.combine(p)
        case .acl(let p):
            h.combine(14 as UInt8); h.combine(p)
        }
    }
}

/// A hardware table with a capacity.
public enum TableKind: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case fdb = "fdb"
    case vlanMembers = "vlan"
    case mdb = "mdb"
    case routerInterfaces = "rif"
    case neighbors = "neigh"
    case nexthops = "nexthop"
    case nexthopGroups = "ecmp_group"
    case lpmIPv4 = "lpm_ipv4"
    case lpmIPv6 = "lpm_ipv6"
    case vxlanTunnels = "vxlan_tunnel"
    case vxlanFlood = "vxlan_flood"
    /// An SR-IOV PF's virtual functions (capacity: its VFs).
    case vfs = "vf"
    /// Routing tables other than main (VRFs: mlxsw's virtual routers).
    case vrfs = "vrf"
    /// Link aggregation groups (devlink's `lag` resources; members per group:
    /// `DriverCapabilities.maxLAGMembers`).
    case lags = "lag"
    /// The ingress ACL TCAM: one entry per rule (devlink's `acl` / mlxsw's `flexible ACL`).
    case acl = "acl"

    /// How error messages name the table ("LPM table full 8192/8192").
    public var title: String {
        switch self {
        case .fdb: "FDB table"
        case .vlanMembers: "VLAN membership table"
        case .mdb: "MDB table"
        case .routerInterfaces: "router interface table"
        case .neighbors: "neighbour table"
        case .nexthops: "nexthop table"
        case .nexthopGroups: "ECMP group table"
        case .lpmIPv4: "LPM table"
        case .lpmIPv6: "IPv6 LPM table"
        case .vxlanTunnels: "VXLAN tunnel table"
        case .vxlanFlood: "VXLAN flood list"
        case .vfs: "VF table"
        case .vrfs: "VRF table"
        case .lags: "LAG table"
        case .acl: "ACL TCAM"
        }
    }
    public var description: String { rawValue }
}

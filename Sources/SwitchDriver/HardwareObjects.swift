import SwitchModel

/// A front-panel port's switching settings.
///
/// The kernel counterparts are the port netdev (`IFLA_MTU`, admin state), its bridge
/// master, and the bridge port attributes (`IFLA_BRPORT_STATE`, `_LEARNING`,
/// `_UNICAST_FLOOD`, `_MCAST_FLOOD`, `_BCAST_FLOOD`, `_MULTICAST_ROUTER`, `_ISOLATED`) —
/// switchdev's `SWITCHDEV_ATTR_ID_PORT_*` attributes.
public struct PortSettings: Hashable, Sendable {
    public var port: PortID
    public var adminUp: Bool
    public var mtu: UInt32
    /// The bridge the port is enslaved to; nil for a standalone (routed or unused) port.
    public var bridge: BridgeID?
    public var stpState: STPState
    public var learning: Bool
    public var unicastFlood: Bool
    public var multicastFlood: Bool
    public var broadcastFlood: Bool
    /// The port leads to a multicast router: it receives all snooped multicast.
    public var multicastRouter: Bool
    /// An isolated port forwards only to non-isolated ports.
    public var isolated: Bool
    /// A locked port (802.1X, `IFLA_BRPORT_LOCKED`): a frame arriving there is forwarded
    /// only when its source MAC has an FDB entry on this port in the frame's VLAN; any other
    /// frame is dropped, never learned and never roams (`br_handle_frame_finish`,
    /// `BR_PORT_LOCKED`). Set only for a driver with `DriverCapabilities.Features.lockedPorts`.
    public var locked: Bool
    /// MAC authentication bypass on a locked port (`IFLA_BRPORT_MAB`): the kernel adds a
    /// locked FDB entry for an unknown source MAC and drops the frame, so such frames go
    /// to the CPU (`TrapReason.lockedPort`) instead of being dropped by the chip.
    public var mab: Bool
    /// Set when kernel state the chip cannot express acts on frames *arriving* on the port
    /// (a tc ingress filter, a macvlan upper, per-VLAN STP states, a locked port on a chip
    /// without `lockedPorts`): every
    /// frame received there goes to the CPU (`TrapReason.portTrap`, up the port's host
    /// interface) and the chip forwards none of it. The reason says why, in words.
    public var ingressTrap: String?
    /// Set when kernel state the chip cannot express acts on frames *leaving* the port (an
    /// egress qdisc or tc filter): a frame the chip would send out of this port — bridged,
    /// flooded or routed — goes whole to the CPU instead, and the chip forwards it nowhere
    /// (the kernel forwards it, so hosts never get two copies).
    public var egressTrap: String?
    /// The port's ingress is classified by its ACL (`HardwareObject.acl`): until the chip
    /// holds that ACL, every frame arriving on the port goes to the CPU (`TrapReason.portTrap`),
    /// so a filter is never bypassed — the port is `trapped` meanwhile.
    public var ingressACL: Bool

    public init(port: PortID, adminUp: Bool = true, mtu: UInt32 = 1500, bridge: BridgeID? = nil,
                stpState: STPState = .forwarding, learning: Bool = true, unicastFlood: Bool = true,
                multicastFlood: Bool = true, broadcastFlood: Bool = true, multicastRouter: Bool = false,
                isolated: Bool = false, locked: Bool = false, mab: Bool = false,
                ingressTrap: String? = nil, egressTrap: String? = nil, ingressACL: Bool = false) {
        self.port = port
        self.adminUp = adminUp
        self.mtu = mtu
        self.bridge = bridge
        self.stpState = stpState
        self.learning = learning
        self.unicastFlood = unicastFlood
        self.multicastFlood = multicastFlood
        self.broadcastFlood = broadcastFlood
        self.multicastRouter = multicastRouter
        self.isolated = isolated
        self.locked = locked
        self.mab = mab
        self.ingressTrap = ingressTrap
        self.egressTrap = egressTrap
        self.ingressACL = ingressACL
    }

    /// The port's trap reasons in words (`ingress: …; egress: …`), nil when it traps nothing.
    public var trapReason: String? {
        let parts = [ingressTrap.map { "ingress: \($0)" }, egressTrap.map { "egress: \($0)" }].compactMap { $0 }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }
}

/// A bridge domain's settings.
///
/// The kernel counterparts are `IFLA_BR_VLAN_FILTERING`, `IFLA_BR_VLAN_PROTOCOL`,
/// `IFLA_BR_AGEING_TIME`, `IFLA_BR_MCAST_SNOOPING` (switchdev's
/// `SWITCHDEV_ATTR_ID_BRIDGE_*`).
public struct BridgeSettings: Hashable, Sendable {
    public var bridge: BridgeID
    public var vlanFiltering: Bool
    /// 0x8100 (802.1Q) or 0x88a8 (802.1ad).
    public var vlanProtocol: UInt16
    /// Seconds a learned MAC lives without traffic; 0 disables ageing.
    public var ageingTime: UInt32
    public var multicastSnooping: Bool
    /// The families for which the bridge is its own querier (`mcast_querier`; for IPv6
    /// also an IPv6 address to send MLD queries from). Snooped group traffic is forwarded
    /// by the MDB only while a querier exists (`br_multicast_querier_exists`); the chip
    /// counts on this one alone and traps group traffic otherwise (the kernel floods it).
    public var ownQuerier: RoutedFamilies
    /// `mcast_query_response_interval` in milliseconds: after the bridge becomes querier,
    /// or hears another querier, the kernel floods group traffic this long first.
    public var queryResponseInterval: UInt32
    /// A member suppresses neighbour discovery (`neigh_suppress`, EVPN's ARP/ND
    /// suppression on vxlan ports): the kernel's bridge may answer ARP and neighbour
    /// solicitations itself from its neighbour table and then floods them to no
    /// suppressing port (`br_do_proxy_suppress_arp`, `br_do_suppress_nd`). The chip sends
    /// the bridge's ARP and ND up whole, and the kernel does both.
    public var neighborSuppression: Bool

    public init(bridge: BridgeID, vlanFiltering: Bool = false, vlanProtocol: UInt16 = 0x8100,
                ageingTime: UInt32 = 300, multicastSnooping: Bool = true,
                ownQuerier: RoutedFamilies = [], queryResponseInterval: UInt32 = 10_000, neighborSuppression: Bool = false) {
        self.bridge = bridge
        self.vlanFiltering = vlanFiltering
        self.vlanProtocol = vlanProtocol
        self.ageingTime = ageingTime
        self.multicastSnooping = multicastSnooping
        self.ownQuerier = ownQuerier
        self.queryResponseInterval = queryResponseInterval
        self.neighborSuppression = neighborSuppression
    }
}

/// A port's membership in one VLAN of a VLAN-filtering bridge.
///
/// The kernel counterpart is a `bridge vlan` entry (`struct bridge_vlan_info`:
/// `BRIDGE_VLAN_INFO_PVID`, `_UNTAGGED`), switchdev's `SWITCHDEV_OBJ_ID_PORT_VLAN`.
public struct VLANMember: Hashable, Sendable {
    public var bridge: BridgeID
    public var port: PortID
    public var vid: VLANID
    /// Frames of this VLAN leave the port without a tag.
    public var untagged: Bool
    /// Untagged and priority-tagged frames arriving on the port belong to this VLAN.
    public var pvid: Bool

    public init(bridge: BridgeID, port: PortID, vid: VLANID, untagged: Bool = false, pvid: Bool = false) {
        self.bridge = bridge
        self.port = port
        self.vid = vid
        self.untagged = untagged
        self.pvid = pvid
    }
}

/// Where frames to an FDB entry's MAC go.
public enum FDBDestination: Hashable, Sendable, CustomStringConvertible {
    /// Out of a front-panel port.
    case port(PortID)
    /// Into a VXLAN tunnel to a remote VTEP.
    case tunnel(vni: VNI, remote: IPAddress)
    /// To the CPU (the bridge's own and its ports' local addresses).
    case cpu

    public var description: String {
        switch self {
        case .port(let p): p.description
        case .tunnel(let vni, let remote): "vxlan vni \(vni) dst \(remote)"
        case .cpu: "cpu"
        }
    }
}

/// A forwarding database entry programmed by the control plane (static, local, or a
/// kernel-learned MAC). MACs the chip learns itself are reported as events instead.
///
/// The kernel counterpart is an AF_BRIDGE `RTM_NEWNEIGH` (switchdev's
/// `SWITCHDEV_FDB_ADD_TO_DEVICE`).
public struct HardwareFDBEntry: Hashable, Sendable {
    public var bridge: BridgeID
    /// 0 on a bridge without VLAN filtering.
    public var vid: VLANID
    public var mac: MACAddress
    public var destination: FDBDestination
    /// Static entries never age, and learning never re-points them on the chip. The
    /// kernel's bridge does move a static entry that is not sticky when its MAC shows up
    /// on another port (`br_fdb_update`); so the chip sends such a frame whole to the CPU
    /// (`TrapReason.stationMove`), the kernel moves its entry, and the control plane
    /// reprograms it.
    public var isStatic: Bool
    /// The entry never moves (`NTF_STICKY`, or the bridge's own `local` entries): a frame
    /// from its MAC on another port is forwarded like any other, as the kernel does.
    public var isSticky: Bool

    public init(bridge: BridgeID, vid: VLANID = .none, mac: MACAddress, destination: FDBDestination, isStatic: Bool = true,
                isSticky: Bool = false) {
        self.bridge = bridge
        self.vid = vid
        self.mac = mac
        self.destination = destination
        self.isStatic = isStatic
        self.isSticky = isSticky
    }
}

/// A multicast group's replication list in one bridge VLAN.
///
/// The kernel counterparts are the bridge's MDB entries (`RTM_NEWMDB`), one per port;
/// the chip holds one group with a port set (switchdev's `SWITCHDEV_OBJ_ID_PORT_MDB`).
public struct HardwareMDBEntry: Hashable, Sendable {
    public var bridge: BridgeID
    public var vid: VLANID
    public var group: MDBGroup
    public var ports: PortSet

    public init(bridge: BridgeID, vid: VLANID = .none, group: MDBGroup, ports: PortSet) {
        self.bridge = bridge
        self.vid = vid
        self.group = group
        self.ports = ports
    }
}

/// What a router interface is attached to.
public enum RouterInterfaceBinding: Hashable, Sendable, CustomStringConvertible {
    /// A routed front-panel port.
    case port(PortID)
    /// A bridge VLAN (an SVI); VID 0 for a bridge without VLAN filtering.
    case bridge(BridgeID, VLANID)

    public var description: String {
        switch self {
        case .port(let p): p.description
        case .bridge(let b, let vid): vid == .none ? b.description : "\(b) vlan \(vid)"
        }
    }
}

/// A router interface: frames to its MAC on its binding are routed.
///
/// The kernel counterpart is a netdev with IP addresses (a port, a bridge, a bridge VLAN
/// upper) — mlxsw's RIF.
public struct RouterInterface: Hashable, Sendable {
    public var id: RouterInterfaceID
    public var binding: RouterInterfaceBinding
    public var mac: MACAddress
    public var mtu: UInt32
    /// The families whose packets arriving here the chip routes; packets of the others
    /// that it would route are trapped to the CPU (`routing_disabled`), where the kernel
    /// decides — its ingress device's forwarding switch (`net.ipv4.conf.IF.forwarding`),
    /// a VRF, policy rules. Local delivery is unaffected: it is trapped either way.
    public var routedFamilies: RoutedFamilies
    /// The routing table its packets are looked up in: 254 (main), or the table of the
    /// VRF its netdev is enslaved to (`IFLA_VRF_TABLE`; the kernel's l3mdev rule). mlxsw's
    /// virtual router.
    public var vrf: UInt32

    public init(id: RouterInterfaceID, binding: RouterInterfaceBinding, mac: MACAddress, mtu: UInt32 = 1500,
                routedFamilies: RoutedFamilies = .all, vrf: UInt32 = 254) {
        self.id = id
        self.binding = binding
        self.mac = mac
        self.mtu = mtu
        self.routedFamilies = routedFamilies
        self.vrf = vrf
    }
}

/// A set of IP families a router interface routes.
public struct RoutedFamilies: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let ipv4 = RoutedFamilies(rawValue: 1)
    public static let ipv6 = RoutedFamilies(rawValue: 2)
    public static let all: RoutedFamilies = [.ipv4, .ipv6]

    public init(_ family: AddressFamily) { self = family == .ipv4 ? .ipv4 : .ipv6 }

    public var description: String {
        [(RoutedFamilies.ipv4, "ipv4"), (.ipv6, "ipv6")].filter { contains($0.0) }.map(\.1).joined(separator: ",")
    }
}

/// A resolved neighbour: the MAC to write when routing to `address` out of `rif`.
///
/// The kernel counterpart is `RTM_NEWNEIGH` (AF_INET/AF_INET6) in a valid NUD state.
public struct HardwareNeighbor: Hashable, Sendable {
    public var rif: RouterInterfaceID
    public var address: IPAddress
    public var mac: MACAddress

    public init(rif: RouterInterfaceID, address: IPAddress, mac: MACAddress) {
        self.rif = rif
        self.address = address
        self.mac = mac
    }
}

/// A next hop: a gateway reached through a router interface. It needs the gateway's
/// neighbour entry to rewrite frames.
///
/// The kernel counterparts are a nexthop object (`RTM_NEWNEXTHOP`, `NHA_GATEWAY`,
/// `NHA_OIF`) or a route's `RTA_GATEWAY`/`RTA_OIF`.
public struct HardwareNexthop: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var rif: RouterInterfaceID
    public var gateway: IPAddress

    public init(rif: RouterInterfaceID, gateway: IPAddress) {
        self.rif = rif
        self.gateway = gateway
    }
    public var description: String { "nexthop \(gateway) \(rif)" }
    public static func < (a: HardwareNexthop, b: HardwareNexthop) -> Bool { (a.gateway, a.rif) < (b.gateway, b.rif) }
}

/// An ECMP group: traffic is spread over the members by a hash of the 5-tuple, in
/// proportion to their weights.
public struct HardwareNexthopGroup: Hashable, Sendable {
    public struct Member: Hashable, Sendable {
        public var nexthop: HardwareNexthop
        public var weight: UInt16
        public init(nexthop: HardwareNexthop, weight: UInt16 = 1) {
            self.nexthop = nexthop
            self.weight = weight
        }
    }
    public var id: NexthopGroupID
    public var members: [Member]

    public init(id: NexthopGroupID, members: [Member]) {
        self.id = id
        self.members = members
    }
}

/// Why the chip sends a packet to the CPU instead of forwarding it. The set is closed;
/// each reason has its own counter and policer.
public enum TrapReason: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case stp = "stp"                          // 01:80:c2:00:00:00 BPDUs
    case linkLocal = "link_local"             // other 01:80:c2:00:00:0x (LLDP, LACP, …)
    case igmp = "igmp"
    case mld = "mld"
    case arp = "arp"
    case neighborDiscovery = "nd"
    case localAddress = "local"               // addressed to the switch itself
    case ttlExpired = "ttl_expired"
    case unresolvedNexthop = "unresolved_nexthop"
    case noRoute = "no_route"
    case routeTrap = "route_trap"             // a route the control plane keeps on the CPU
    case mtuExceeded = "mtu_exceeded"
    case ipOptions = "ip_options"
    case unknownPort = "standalone_port"      // a port the control plane has not bridged or routed
    case routingDisabled = "routing_disabled" // the ingress router interface does not route this family
    case portTrap = "port_trap"               // a port whose ingress or egress the control plane keeps on the CPU
    case unregisteredMulticast = "unregistered_multicast" // snooped IP multicast without a chip MDB entry: the kernel decides (querier, source filters)
    case redirect = "redirect"                // routed back out of its ingress interface: the kernel forwards it and may send an ICMP redirect
    case stationMove = "station_move"         // a MAC with a static, non-sticky entry seen on another port: the kernel moves the entry
    case lockedPort = "locked_port"           // a locked port's frame the kernel drops after adding or refreshing a MAB entry (unknown source with MAB, or a source behind a locked or local entry)
    case aclTrap = "acl_trap"                 // an ingress ACL rule's `trap` verdict
    case aclUnsure = "acl_unsure"             // a frame the ACL cannot classify exactly (an IP fragment, IPv6 extension headers, a truncated header): the kernel's tc decides

    public var description: String { rawValue }
}

/// What the chip does with packets that match a route.
public enum RouteAction: Hashable, Sendable, CustomStringConvertible {
    /// Rewrite towards one next hop.
    case nexthop(HardwareNexthop)
    /// Spread over an ECMP group.
    case group(NexthopGroupID)
    /// A directly connected subnet: look the destination up in the neighbour table;
    /// unresolved destinations are trapped so the kernel resolves them.
    case attached(RouterInterfaceID)
    /// Send to the CPU (local addresses, routes the chip cannot do).
    case trap(TrapReason)
    /// Discard (`blackhole`).
    case drop

    public var description: String {
        switch self {
        case .nexthop(let nh): "via \(nh.gateway) \(nh.rif)"
        case .group(let g): "\(g)"
        case .attached(let rif): "attached \(rif)"
        case .trap(let r): "trap \(r)"
        case .drop: "blackhole"
        }
    }
}

/// A route in the chip's LPM table.
///
/// The kernel counterpart is `RTM_NEWROUTE` (switchdev's FIB notifier
/// `FIB_EVENT_ENTRY_REPLACE`).
public struct HardwareRoute: Hashable, Sendable {
    /// The virtual router; stages use the kernel table id (main is 254).
    public var vrf: UInt32
    public var prefix: IPPrefix
    public var action: RouteAction

    public init(vrf: UInt32 = 254, prefix: IPPrefix, action: RouteAction) {
        self.vrf = vrf
        self.prefix = prefix
        self.action = action
    }
}

/// A VXLAN tunnel: maps a VNI to a bridge VLAN and says how to build outer headers.
///
/// The kernel counterpart is a vxlan netdev (`IFLA_VXLAN_ID`, `_LOCAL`, `_PORT`, `_TTL`)
/// enslaved to a bridge.
public struct VXLANTunnel: Hashable, Sendable {
    /// What the chip learns from decapsulated frames. The kernel has two switches: the
    /// bridge port's `learning` on the vxlan port (the bridge learns the MAC behind the
    /// vxlan port) and the device's own `learning` (the vxlan device learns the MAC's VTEP).
    public enum Learning: UInt8, Hashable, Sendable {
        /// Neither learns: the chip learns nothing from the tunnel.
        case off = 0
        /// Both learn: the MAC behind its remote VTEP (`.tunnel(vni, remote)`), written back
        /// to the vxlan device (with `dst`) and to the bridge.
        case remote = 1
        /// Only the bridge learns (`nolearning` device): the MAC behind the tunnel's default
        /// destinations (`.tunnel(vni, remote: 0.0.0.0)`), replicated to every flood-list
        /// VTEP as the device does when it has no entry for the MAC; written back to the bridge only.
        case defaultRemotes = 2
    }

    /// How the outer IPv4 header's DF bit is set (`IFLA_VXLAN_DF`).
    public enum DontFragment: UInt8, Hashable, Sendable {
        /// `VXLAN_DF_UNSET`: never set (the kernel's default).
        case unset = 0
        /// `VXLAN_DF_SET`: always set.
        case set = 1
        /// `VXLAN_DF_INHERIT`: the inner IPv4 packet's DF.
        case inherit = 2
    }

    public var vni: VNI
    public var bridge: BridgeID
    public var vid: VLANID
    public var local: IPAddress
    public var udpPort: UInt16
    /// The outer TTL; 0 means the chip's default hop limit, 64 (`ip4_dst_hoplimit`).
    public var ttl: UInt8
    /// `ttl inherit`: the outer TTL is the inner IP packet's (non-IP inner frames: the default).
    public var ttlInherit: Bool
    /// The outer DSCP (the top six bits; `tos 0x10`); 1 means `tos inherit`. Whatever it is,
    /// the outer ECN is the inner packet's, CE sent as ECT(0) (RFC 6040 §4.1, the kernel's
    /// `INET_ECN_encapsulate`).
    public var tos: UInt8
    public var dontFragment: DontFragment
    /// The UDP source ports the flow hash picks from, [low, high) (the kernel's
    /// `udp_flow_src_port`; its default is `ip_local_port_range`, 32768–60999).
    public var sourcePorts: Range<UInt16>
    public var learning: Learning
    /// The outer UDP checksum is computed (the kernel's default over IPv4, `udpcsum`), or 0
    /// (`noudpcsum`, RFC 7348's zero checksum).
    public var udpChecksum: Bool

    public init(vni: VNI, bridge: BridgeID, vid: VLANID = .none, local: IPAddress, udpPort: UInt16 = 4789, ttl: UInt8 = 0,
                ttlInherit: Bool = false, tos: UInt8 = 0, dontFragment: DontFragment = .unset,
                sourcePorts: Range<UInt16> = VXLANTunnel.defaultSourcePorts, learning: Learning = .remote,
                udpChecksum: Bool = true) {
        self.learning = learning
        self.udpChecksum = udpChecksum
        self.vni = vni
        self.bridge = bridge
        self.vid = vid
        self.local = local
        self.udpPort = udpPort
        self.ttl = ttl
        self.ttlInherit = ttlInherit
        self.tos = tos
        self.dontFragment = dontFragment
        self.sourcePorts = sourcePorts
    }

    /// Linux's default `net.ipv4.ip_local_port_range`, 32768 60999, as `udp_flow_src_port` uses it.
    public static let defaultSourcePorts: Range<UInt16> = 32768..<60999
}

/// A remote VTEP that receives a copy of flooded (BUM) traffic: head-end replication.
///
/// The kernel counterpart is an all-zeros FDB entry on a vxlan device
/// (`bridge fdb append 00:00:00:00:00:00 dev vxlan0 dst 192.0.2.2`).
public struct VXLANFloodEntry: Hashable, Sendable {
    public var vni: VNI
    public var remote: IPAddress
    public init(vni: VNI, remote: IPAddress) {
        self.vni = vni
        self.remote = remote
    }
}

/// A link aggregation group: front-panel ports that act as one logical port (`id`, a
/// `PortID.lag(n)`) for bridging, VLANs, FDB entries and router interfaces. A frame
/// arriving on a collecting member enters the pipeline as if it arrived on `id`; a frame
/// the pipeline sends out of `id` leaves through one distributing member, chosen by the
/// kernel bond's own hash.
///
/// The kernel counterpart is a bond over switch ports (`IFLA_INFO_KIND` `bond`; mlxsw's
/// LAG on `NETDEV_CHANGEUPPER`, its collection/distribution on `NETDEV_CHANGELOWERSTATE`).
public struct HardwareLAG: Hashable, Sendable {
    public var id: PortID
    /// Every member, in the bond's slave order.
    public var members: [PortID]
    /// The members frames leave through, in slave order — the bond's usable-slave array
    /// (`bond_update_slave_arr`): a frame takes `distributing[hash % count]`. Empty: the
    /// bond sends nothing (the chip drops).
    public var distributing: [PortID]
    /// The members whose arriving frames the bond receives; a frame arriving on any other
    /// member goes whole to the CPU (the kernel drops it, or a protocol bound to the slave
    /// takes it).
    public var collecting: PortSet
    public var hash: LAGHash

    public init(id: PortID, members: [PortID], distributing: [PortID], collecting: PortSet, hash: LAGHash = .layer2) {
        self.id = id
        self.members = members
        self.distributing = distributing
        self.collecting = collecting
        self.hash = hash
    }
}

/// How a LAG picks a distributing member: the kernel bond's `xmit_hash_policy`
/// (`bond_xmit_hash`), computed on the frame as it leaves.
public enum LAGHash: UInt8, Hashable, Sendable, CustomStringConvertible {
    case layer2 = 0, layer34 = 1, layer23 = 2, vlanSrcMAC = 5

    /// iproute2's word (`xmit_hash_policy layer3+4`).
    public var description: String {
        switch self {
        case .layer2: "layer2"
        case .layer34: "layer3+4"
        case .layer23: "layer2+3"
        case .vlanSrcMAC: "vlan+srcmac"
        }
    }
}

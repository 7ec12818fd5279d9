/// Bridge-wide settings of a software bridge.
///
/// The kernel counterparts are the `IFLA_BR_*` attributes inside `IFLA_INFO_DATA` of an
/// `RTM_NEWLINK` whose `IFLA_INFO_KIND` is `bridge`. Times are in the kernel's
/// centiseconds (USER_HZ), exactly as `ip -d -j link` prints them.
public struct BridgeAttributes: Hashable, Sendable {
    /// `IFLA_BR_STP_STATE`: 0 off, 1 kernel STP, 2 user-space STP.
    public var stpState: UInt32
    /// `IFLA_BR_AGEING_TIME` in centiseconds (30000 = 300 s).
    public var ageingTime: UInt32
    public var forwardDelay: UInt32
    public var helloTime: UInt32
    public var maxAge: UInt32
    /// `IFLA_BR_PRIORITY`.
    public var priority: UInt16
    /// `IFLA_BR_VLAN_FILTERING`; nil when the kernel does not report it (no VLAN filtering support).
    public var vlanFiltering: Bool?
    /// `IFLA_BR_VLAN_PROTOCOL`: 0x8100 (802.1Q) or 0x88a8 (802.1ad); nil when not reported.
    public var vlanProtocol: UInt16?
    /// `IFLA_BR_VLAN_DEFAULT_PVID`; nil when not reported.
    public var defaultPVID: UInt16?
    /// `IFLA_BR_MCAST_SNOOPING`; nil when not reported.
    public var multicastSnooping: Bool?
    /// `BR_BOOLOPT_MST_ENABLE` in `IFLA_BR_MULTI_BOOLOPT` (`mst_enabled`): per-VLAN STP
    /// states follow multiple spanning tree instances.
    public var mstEnabled: Bool = false
    /// `IFLA_BR_MCAST_QUERIER` (`mcast_querier`): the bridge sends IGMP/MLD queries itself.
    public var multicastQuerier: Bool = false
    /// `IFLA_BR_MCAST_QUERY_RESPONSE_INTVL` in centiseconds (`mcast_query_response_interval`,
    /// 1000 = 10 s): also how long the kernel waits, after the bridge becomes querier or a
    /// new querier is heard, before it trusts snooping (`br_multicast_querier_exists`).
    public var multicastQueryResponseInterval: UInt64 = 1000

    public init(stpState: UInt32 = 0, ageingTime: UInt32 = 30000, forwardDelay: UInt32 = 1500,
                helloTime: UInt32 = 200, maxAge: UInt32 = 2000, priority: UInt16 = 32768,
                vlanFiltering: Bool? = nil, vlanProtocol: UInt16? = nil, defaultPVID: UInt16? = nil,
                multicastSnooping: Bool? = nil) {
        self.stpState = stpState
        self.ageingTime = ageingTime
        self.forwardDelay = forwardDelay
        self.helloTime = helloTime
        self.maxAge = maxAge
        self.priority = priority
        self.vlanFiltering = vlanFiltering
        self.vlanProtocol = vlanProtocol
        self.defaultPVID = defaultPVID
        self.multicastSnooping = multicastSnooping
    }

    /// iproute2's name for the VLAN protocol: `802.1Q` or `802.1ad`.
    public static func vlanProtocolName(_ proto: UInt16) -> String {
        switch proto {
        case 0x8100: "802.1Q"
        case 0x88A8: "802.1ad"
        default: "0x" + String(proto, radix: 16)
        }
    }
}

/// The 802.1D spanning-tree state of a bridge port.
///
/// The kernel counterpart is `IFLA_BRPORT_STATE` (`BR_STATE_*`).
public enum STPState: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case disabled = 0, listening = 1, learning = 2, forwarding = 3, blocking = 4

    /// iproute2's spelling in `bridge link` and `ip -d link`.
    public var description: String {
        switch self {
        case .disabled: "disabled"
        case .listening: "listening"
        case .learning: "learning"
        case .forwarding: "forwarding"
        case .blocking: "blocking"
        }
    }

    /// Whether a port in this state learns source MACs (802.1D §8.4).
    public var learns: Bool { self == .learning || self == .forwarding }
    /// Whether a port in this state forwards data frames.
    public var forwards: Bool { self == .forwarding }
}

/// Per-port settings of a bridge port.
///
/// The kernel counterparts are the `IFLA_BRPORT_*` attributes, carried either in
/// `IFLA_INFO_SLAVE_DATA` (AF_UNSPEC link messages) or in `IFLA_PROTINFO` (AF_BRIDGE link
/// messages, which is also how STP state changes are announced).
public struct BridgePortAttributes: Hashable, Sendable {
    public var state: STPState
    public var priority: UInt16
    public var cost: UInt32
    public var learning: Bool
    /// `IFLA_BRPORT_UNICAST_FLOOD`: flood unknown unicast to this port (`flood` in iproute2).
    public var unicastFlood: Bool
    public var multicastFlood: Bool
    public var broadcastFlood: Bool
    /// `IFLA_BRPORT_MULTICAST_ROUTER`: 0 disabled, 1 learned (default), 2 permanent, 3 temporary.
    public var multicastRouter: UInt8
    public var neighSuppress: Bool
    public var isolated: Bool
    public var hairpin: Bool
    public var fastLeave: Bool
    /// `IFLA_BRPORT_GUARD` (BPDU guard).
    public var bpduGuard: Bool
    /// `IFLA_BRPORT_PROTECT` (root block).
    public var rootBlock: Bool
    /// `IFLA_BRPORT_LOCKED` (802.1X): the bridge forwards a frame from this port only when
    /// its source MAC has an FDB entry on the port that is not itself locked.
    public var locked: Bool
    /// `IFLA_BRPORT_MAB` (MAC authentication bypass, on a locked port): an unknown source
    /// MAC creates a locked FDB entry for user space to authorise; the frame is dropped.
    public var mab: Bool
    /// `IFLA_BRPORT_NEIGH_VLAN_SUPPRESS`: neighbour suppression is set per VLAN
    /// (`bridge vlan set … neigh_suppress`) instead of for the port.
    public var neighVLANSuppress = false
    /// `IFLA_BRPORT_BACKUP_PORT`: while this port has no carrier, the kernel sends what it
    /// would send to it through this port instead.
    public var backupPort: IfIndex?
    /// `IFLA_BRPORT_BACKUP_NHID`: the same through a nexthop group (EVPN multihoming's
    /// redirect to the peer's VTEP).
    public var backupNexthop: UInt32?

    public init(state: STPState = .forwarding, priority: UInt16 = 32, cost: UInt32 = 100,
                learning: Bool = true, unicastFlood: Bool = true, multicastFlood: Bool = true,
                broadcastFlood: Bool = true, multicastRouter: UInt8 = 1, neighSuppress: Bool = false,
                isolated: Bool = false, hairpin: Bool = false, fastLeave: Bool = false,
                bpduGuard: Bool = false, rootBlock: Bool = false, locked: Bool = false, mab: Bool = false) {
        self.state = state
        self.priority = priority
        self.cost = cost
        self.learning = learning
        self.unicastFlood = unicastFlood
        self.multicastFlood = multicastFlood
        self.broadcastFlood = broadcastFlood
        self.multicastRouter = multicastRouter
        self.neighSuppress = neighSuppress
        self.isolated = isolated
        self.hairpin = hairpin
        self.fastLeave = fastLeave
        self.bpduGuard = bpduGuard
        self.rootBlock = rootBlock
        self.locked = locked
        self.mab = mab
    }
}

/// One VLAN a bridge port (or the bridge itself) is a member of.
///
/// The kernel counterparts are `struct bridge_vlan_info` in `IFLA_AF_SPEC`
/// (`IFLA_BRIDGE_VLAN_INFO`, flags `BRIDGE_VLAN_INFO_PVID` / `_UNTAGGED`) and the per-VLAN
/// `RTM_NEWVLAN` entries (`BRIDGE_VLANDB_ENTRY_*`), which add the per-VLAN STP state.
public struct PortVLAN: Hashable, Sendable, Comparable {
    public var vid: VLANID
    /// Untagged frames received on the port are classified into this VLAN.
    public var pvid: Bool
    /// Frames of this VLAN leave the port without a tag.
    public var untagged: Bool
    /// Per-VLAN STP state (`BRIDGE_VLANDB_ENTRY_STATE`); nil when the kernel did not report one.
    public var state: STPState?

    public init(vid: VLANID, pvid: Bool = false, untagged: Bool = false, state: STPState? = nil) {
        self.vid = vid
        self.pvid = pvid
        self.untagged = untagged
        self.state = state
    }

    public static func < (lhs: PortVLAN, rhs: PortVLAN) -> Bool { lhs.vid < rhs.vid }
}

/// VXLAN device settings.
///
/// The kernel counterparts are the `IFLA_VXLAN_*` attributes inside `IFLA_INFO_DATA`.
public struct VXLANAttributes: Hashable, Sendable {
    /// `IFLA_VXLAN_ID`; nil for a collect-metadata (external) device.
    public var vni: UInt32?
    /// `IFLA_VXLAN_LOCAL` / `IFLA_VXLAN_LOCAL6`: the local VTEP address.
    public var local: IPAddress?
    /// `IFLA_VXLAN_GROUP` / `IFLA_VXLAN_GROUP6`: the default remote or multicast group.
    public var group: IPAddress?
    /// `IFLA_VXLAN_PORT`: the UDP destination port (host order).
    public var port: UInt16
    /// `IFLA_VXLAN_LINK`: the underlay device.
    public var underlay: IfIndex?
    public var learning: Bool
    /// `IFLA_VXLAN_TTL` (0 = the route's hop limit, 64 by default; with `ttl inherit`, unused).
    public var ttl: UInt8
    /// `IFLA_VXLAN_TTL_INHERIT` (`ttl inherit`): the outer TTL is the inner packet's.
    public var ttlInherit: Bool
    /// `IFLA_VXLAN_TOS`: the outer DSCP; 1 means `tos inherit` (the inner packet's DSCP).
    /// The inner packet's ECN is always copied out (RFC 6040).
    public var tos: UInt8
    /// `IFLA_VXLAN_DF`: `VXLAN_DF_UNSET` 0, `VXLAN_DF_SET` 1, `VXLAN_DF_INHERIT` 2.
    public var df: UInt8
    /// `IFLA_VXLAN_PORT_RANGE`: the UDP source port range (`srcport MIN MAX`; the kernel's
    /// `udp_flow_src_port` picks in [MIN, MAX)); nil: the namespace's `ip_local_port_range`.
    public var sourcePorts: Range<UInt16>?
    /// `IFLA_VXLAN_COLLECT_METADATA` (`external`).
    public var collectMetadata: Bool
    /// `IFLA_VXLAN_UDP_CSUM` (`udpcsum` / `noudpcsum`): over IPv4 the kernel computes the
    /// outer UDP checksum unless told not to.
    public var udpChecksum: Bool

    public init(vni: UInt32? = nil, local: IPAddress? = nil, group: IPAddress? = nil, port: UInt16 = 4789,
                underlay: IfIndex? = nil, learning: Bool = true, ttl: UInt8 = 0, ttlInherit: Bool = false, tos: UInt8 = 0,
                df: UInt8 = 0, sourcePorts: Range<UInt16>? = nil, collectMetadata: Bool = false, udpChecksum: Bool = true) {
        self.udpChecksum = udpChecksum
        self.vni = vni
        self.local = local
        self.group = group
        self.port = port
        self.underlay = underlay
        self.learning = learning
        self.ttl = ttl
        self.ttlInherit = ttlInherit
        self.tos = tos
        self.df = df
        self.sourcePorts = sourcePorts
        self.collectMetadata = collectMetadata
    }
}

/// A VLAN membership of one bridge port (or of the bridge device itself, for its own
/// "self" VLANs): the entry `bridge vlan show` prints on one line.
public struct BridgeVLAN: Hashable, Sendable {
    public var port: IfIndex
    public var vlan: PortVLAN

    public struct Key: Hashable, Sendable, Comparable {
        public var port: IfIndex
        public var vid: VLANID
        public init(port: IfIndex, vid: VLANID) {
            self.port = port
            self.vid = vid
        }
        public static func < (a: Key, b: Key) -> Bool { (a.port, a.vid) < (b.port, b.vid) }
    }

    public init(port: IfIndex, vlan: PortVLAN) {
        self.port = port
        self.vlan = vlan
    }

    public var key: Key { Key(port: port, vid: vlan.vid) }
}

import SwitchModel

/// One decoded rtnetlink message: a kernel object that appeared, changed or went away.
///
/// This closed enum is everything ``NetlinkChannel`` hands upward; unknown message types
/// and families the mirror does not model (MPLS routes, proxy neighbours, route cache
/// entries) are skipped before they get here.
public enum KernelMessage: Sendable, Equatable {
    /// `RTM_NEWLINK` (AF_UNSPEC): a link appeared or changed.
    case newLink(Link)
    /// `RTM_DELLINK` (AF_UNSPEC).
    case delLink(Link)
    /// `RTM_NEWLINK` (AF_BRIDGE): bridge-port details — STP state, flags, VLANs.
    case bridgePort(BridgePortInfo)
    /// `RTM_DELLINK` (AF_BRIDGE): the interface left its bridge.
    case bridgePortRemoved(IfIndex)
    /// `RTM_NEWVLAN` / `RTM_DELVLAN`: one VLAN of a port, with its per-VLAN state.
    case newVLAN(BridgeVLAN)
    case delVLAN(BridgeVLAN)
    /// `RTM_NEWNEIGH` / `RTM_DELNEIGH` (AF_BRIDGE).
    case newFDB(FDBEntry)
    case delFDB(FDBEntry)
    /// `RTM_NEWMDB` / `RTM_DELMDB`.
    case newMDB(MDBEntry)
    case delMDB(MDBEntry)
    /// `RTM_NEWADDR` / `RTM_DELADDR`.
    case newAddress(InterfaceAddress)
    case delAddress(InterfaceAddress)
    /// `RTM_NEWROUTE` / `RTM_DELROUTE` (IPv4 and IPv6 only). `replaces`: the message had
    /// `NLM_F_REPLACE` (`ip route replace`, zebra's updates): for IPv6 the route took the
    /// place of another at the same prefix and metric, which gets no `RTM_DELROUTE`.
    case newRoute(Route, replaces: Bool = false)
    case delRoute(Route)
    /// `RTM_NEWNEXTHOP` / `RTM_DELNEXTHOP`.
    case newNexthop(NexthopObject)
    case delNexthop(NexthopObject)
    /// `RTM_NEWNEIGH` / `RTM_DELNEIGH` (AF_INET, AF_INET6).
    case newNeighbor(Neighbor)
    case delNeighbor(Neighbor)
    /// `RTM_NEWNETCONF` / `RTM_DELNETCONF` (AF_INET, AF_INET6): per-device IP settings;
    /// a notification carries only what changed.
    case newNetConf(NetConf)
    case delNetConf(NetConf)
    /// `RTM_NEWRULE` / `RTM_DELRULE` (AF_INET, AF_INET6).
    case newRule(RoutingRule)
    case delRule(RoutingRule)
    /// `RTM_NEWQDISC` / `RTM_DELQDISC`.
    case newQdisc(Qdisc)
    case delQdisc(Qdisc)
    /// `RTM_NEWTFILTER` / `RTM_DELTFILTER`.
    case newTCFilter(TCFilter)
    case delTCFilter(TCFilter)
}

/// What an AF_BRIDGE link message says about one interface: its bridge-port attributes
/// (`IFLA_PROTINFO`) and its VLANs (`IFLA_AF_SPEC`). Nil fields were not in the message.
public struct BridgePortInfo: Sendable, Equatable {
    public var port: IfIndex
    public var master: IfIndex?
    public var attributes: BridgePortAttributes?
    public var vlans: [PortVLAN]?

    public init(port: IfIndex, master: IfIndex? = nil, attributes: BridgePortAttributes? = nil, vlans: [PortVLAN]? = nil) {
        self.port = port
        self.master = master
        self.attributes = attributes
        self.vlans = vlans
    }
}

/// The vocabulary of change between the kernel mirror and its consumers (stages, the CLI).
/// It lives in SwitchModel so that pure consumers need not import the mirror.

/// How one object changed.
public enum Change<Value: Sendable & Equatable>: Sendable, Equatable {
    case added(Value)
    case changed(old: Value, new: Value)
    case removed(Value)

    /// The object as it is now, or as it was just before it went away.
    public var current: Value {
        switch self {
        case .added(let v), .removed(let v): v
        case .changed(_, let new): new
        }
    }

    /// `added`, `changed` or `removed`, as `hoist mirror --watch` prints it.
    public var verb: String {
        switch self {
        case .added: "added"
        case .changed: "changed"
        case .removed: "removed"
        }
    }
}

/// One change to the mirrored kernel state. The set of cases is closed: every consumer
/// (stages, the CLI) switches over all of them.
public enum MirrorDelta: Sendable, Equatable {
    case link(Change<Link>)
    case vlan(Change<BridgeVLAN>)
    case fdb(Change<FDBEntry>)
    case mdb(Change<MDBEntry>)
    case address(Change<InterfaceAddress>)
    case route(Change<Route>)
    case nexthop(Change<NexthopObject>)
    case neighbor(Change<Neighbor>)
    /// The namespace's netfilter configuration changed (it is one object: the whole state).
    case netfilter(Change<NetfilterState>)
    case netconf(Change<NetConf>)
    case rule(Change<RoutingRule>)
    case qdisc(Change<Qdisc>)
    case tcFilter(Change<TCFilter>)

    /// The object kind, as a table name (`links`, `fdb`, …).
    public var table: String {
        switch self {
        case .link: "link"
        case .vlan: "vlan"
        case .fdb: "fdb"
        case .mdb: "mdb"
        case .address: "address"
        case .route: "route"
        case .nexthop: "nexthop"
        case .neighbor: "neighbor"
        case .netfilter: "netfilter"
        case .netconf: "netconf"
        case .rule: "rule"
        case .qdisc: "qdisc"
        case .tcFilter: "filter"
        }
    }
}

import KernelMirror
import SwitchModel

/// Renders mirrored objects as JSON with iproute2's field names and conventions
/// (`ip -j -d link`, `bridge -j fdb`, `ip -j route`, …), so scripts written for iproute2
/// read Hoist's output unchanged. Interface indexes are shown as names where known.
public struct IPRouteJSON {
    public let names: [IfIndex: String]

    public init(links: [IfIndex: Link]) {
        names = links.mapValues(\.name)
    }

    func name(_ index: IfIndex?) -> JSONValue? {
        guard let index else { return nil }
        return .string(names[index] ?? "if\(index)")
    }

    /// `ip -j -d link show`.
    public func link(_ l: Link) -> JSONValue {
        var o = JSONObject()
        o["ifindex"] = JSONValue(l.index.rawValue)
        o["ifname"] = .string(l.name)
        o["flags"] = .strings(Self.linkFlagNames(l.flags))
        o["mtu"] = JSONValue(l.mtu)
        o["master"] = name(l.master)
        o["operstate"] = .string(l.operState.description)
        o["address"] = l.mac.map { .string($0.description) }
        var info = JSONObject()
        info["info_kind"] = l.kind.infoKind.map(JSONValue.string)
        if let b = l.bridge { info["info_data"] = bridge(b) }
        if let v = l.vxlan { info["info_data"] = vxlan(v) }
        if let m = l.macvlanMode { info["info_data"] = .object([("mode", .string(m.description))]) }
        if let b = l.bond {
            // `ip -j -d link`'s words for a bond's mode and hash policy.
            var d: [(String, JSONValue)] = [("mode", .string(b.mode.description))]
            if let active = b.activeSlave { d.append(("active_slave", name(active) ?? .string(String(active.rawValue)))) }
            d.append(("xmit_hash_policy", .string(b.hashPolicy.description)))
            info["info_data"] = .object(d)
        }
        if let p = l.bridgePort {
            info["info_slave_kind"] = .string("bridge")
            info["info_slave_data"] = bridgePort(p)
        } else if let s = l.bondSlave {
            info["info_slave_kind"] = .string("bond")
            var d: [(String, JSONValue)] = [("state", .string(s.active ? "ACTIVE" : "BACKUP")), ("mii_status", .string(s.miiUp ? "UP" : "DOWN"))]
            if let agg = s.aggregator { d.append(("ad_aggregator_id", JSONValue(UInt32(agg)))) }
            info["info_slave_data"] = .object(d)
        }
        if !info.fields.isEmpty { o["linkinfo"] = info.value }
        return o.value
    }

    func bridge(_ b: BridgeAttributes) -> JSONValue {
        var o = JSONObject()
        o["forward_delay"] = JSONValue(b.forwardDelay)
        o["hello_time"] = JSONValue(b.helloTime)
        o["max_age"] = JSONValue(b.maxAge)
        o["ageing_time"] = JSONValue(b.ageingTime)
        o["stp_state"] = JSONValue(b.stpState)
        o["priority"] = JSONValue(b.priority)
        o["vlan_filtering"] = b.vlanFiltering.map { JSONValue($0 ? 1 : 0) }
        o["vlan_protocol"] = b.vlanProtocol.map { .string(BridgeAttributes.vlanProtocolName($0)) }
        o["vlan_default_pvid"] = b.defaultPVID.map { JSONValue($0) }
        o["mcast_snooping"] = b.multicastSnooping.map { JSONValue($0 ? 1 : 0) }
        return o.value
    }

    func bridgePort(_ p: BridgePortAttributes) -> JSONValue {
        var o = JSONObject()
        o["state"] = .string(p.state.description)
        o["priority"] = JSONValue(p.priority)
        o["cost"] = JSONValue(p.cost)
        o["hairpin"] = .bool(p.hairpin)
        o["guard"] = .bool(p.bpduGuard)
        o["root_block"] = .bool(p.rootBlock)
        o["locked"] = .bool(p.locked)
        o["mab"] = .bool(p.mab)
        o["fastleave"] = .bool(p.fastLeave)
        o["learning"] = .bool(p.learning)
        o["flood"] = .bool(p.unicastFlood)
        o["multicast_router"] = JSONValue(p.multicastRouter)
        o["mcast_flood"] = .bool(p.multicastFlood)
        o["bcast_flood"] = .bool(p.broadcastFlood)
        o["neigh_suppress"] = .bool(p.neighSuppress)
        if p.neighVLANSuppress { o["neigh_vlan_suppress"] = .bool(true) }
        o["isolated"] = .bool(p.isolated)
        o["backup_port"] = name(p.backupPort)
        o["backup_nhid"] = p.backupNexthop.map { JSONValue($0) }
        return o.value
    }

    func vxlan(_ v: VXLANAttributes) -> JSONValue {
        var o = JSONObject()
        if v.collectMetadata { o["external"] = .bool(true) }
        o["id"] = v.vni.map { JSONValue($0) }
        if let g = v.group { o[g.isMulticast ? "group" : "remote"] = .string(g.description) }
        o["local"] = v.local.map { .string($0.description) }
        o["link"] = name(v.underlay)
        o["port"] = JSONValue(v.port)
        o["learning"] = .bool(v.learning)
        o["ttl"] = JSONValue(v.ttl)
        return o.value
    }

    /// `bridge -j vlan show`, one entry per port and VLAN.
    public func vlan(_ v: BridgeVLAN) -> JSONValue {
        var o = JSONObject()
        o["ifname"] = name(v.port)
        o["vlan"] = JSONValue(v.vlan.vid.rawValue)
        var flags: [String] = []
        if v.vlan.pvid { flags.append("PVID") }
        if v.vlan.untagged { flags.append("Egress Untagged") }
        o["flags"] = .strings(flags)
        o["state"] = v.vlan.state.map { .string($0.description) }
        return o.value
    }

    /// `bridge -j fdb show`.
    public func fdb(_ e: FDBEntry) -> JSONValue {
        var o = JSONObject()
        o["mac"] = .string(e.key.mac.description)
        o["ifname"] = name(e.key.port)
        if e.key.vlan != .none { o["vlan"] = JSONValue(e.key.vlan.rawValue) }
        o["dst"] = e.key.remote.map { .string($0.description) }
        o["port"] = e.remotePort.map { JSONValue($0) }
        o["vni"] = e.key.vni.map { JSONValue($0) }
        o["flags"] = .strings(e.flags.subtracting(.master).names)
        o["master"] = name(e.master)
        o["state"] = .string(e.state.description)
        return o.value
    }

    /// `bridge -j mdb show`, one entry per group membership.
    public func mdb(_ e: MDBEntry) -> JSONValue {
        var o = JSONObject()
        o["index"] = JSONValue(e.key.bridge.rawValue)
        o["dev"] = name(e.key.bridge)
        o["port"] = name(e.key.port)
        o["grp"] = .string(e.key.group.description)
        o["src"] = e.key.source.map { .string($0.description) }
        o["state"] = .string(e.permanent ? "permanent" : "temp")
        var flags: [String] = []
        if e.flags & 0x01 != 0 { flags.append("offload") }
        if e.flags & 0x02 != 0 { flags.append("fast_leave") }
        o["flags"] = .strings(flags)
        if e.key.vlan != .none { o["vid"] = JSONValue(e.key.vlan.rawValue) }
        return o.value
    }

    /// One `addr_info` entry of `ip -j addr`, with the interface named.
    public func address(_ a: InterfaceAddress) -> JSONValue {
        var o = JSONObject()
        o["ifindex"] = JSONValue(a.key.interface.rawValue)
        o["ifname"] = name(a.key.interface)
        o["family"] = .string(a.family.description)
        o["local"] = .string(a.key.local.description)
        o["address"] = a.peer.map { .string($0.description) }
        o["prefixlen"] = JSONValue(a.key.prefixLength)
        o["scope"] = .string(a.scope.description)
        o["label"] = a.label.map(JSONValue.string)
        return o.value
    }

    /// `ip -j route show table all`.
    public func route(_ r: Route) -> JSONValue {
        var o = JSONObject()
        if r.type != .unicast { o["type"] = .string(r.type.description) }
        o["dst"] = .string(r.key.destination.description)
        o["nhid"] = r.nexthopID.map { JSONValue($0) }
        if r.nexthops.count == 1 {
            o["gateway"] = r.nexthops[0].gateway.map { .string($0.description) }
            o["dev"] = name(r.nexthops[0].interface)
        }
        if r.key.table != .main { o["table"] = .string(r.key.table.description) }
        if r.protocolID != .boot { o["protocol"] = .string(r.protocolID.description) }
        if r.scope != .universe { o["scope"] = .string(r.scope.description) }
        if r.key.family == .ipv6 || r.key.metric != 0 { o["metric"] = JSONValue(r.key.metric) }
        o["prefsrc"] = r.preferredSource.map { .string($0.description) }
        var flags = r.nexthops.count == 1 ? r.nexthops[0].flagNames : []
        if r.flags & Route.flagOffload != 0 { flags.append("rt_offload") }
        if r.flags & Route.flagTrap != 0 { flags.append("rt_trap") }
        if r.flags & Route.flagOffloadFailed != 0 { flags.append("rt_offload_failed") }
        o["flags"] = .strings(flags)
        if r.nexthops.count > 1 {
            o["nexthops"] = .array(r.nexthops.map { nh in
                var n = JSONObject()
                n["gateway"] = nh.gateway.map { .string($0.description) }
                n["dev"] = name(nh.interface)
                n["weight"] = JSONValue(nh.weight)
                n["flags"] = .strings(nh.flagNames)
                return n.value
            })
        }
        return o.value
    }

    /// `ip -j nexthop show`.
    public func nexthop(_ n: NexthopObject) -> JSONValue {
        var o = JSONObject()
        o["id"] = JSONValue(n.id)
        if n.isGroup {
            o["group"] = .array(n.group.map { m in
                var g = JSONObject()
                g["id"] = JSONValue(m.id)
                if m.weight != 1 { g["weight"] = JSONValue(m.weight) }
                return g.value
            })
            if n.groupType == 1 { o["type"] = .string("resilient") }
        }
        o["gateway"] = n.gateway.map { .string($0.description) }
        o["dev"] = name(n.interface)
        if n.blackhole { o["blackhole"] = .null }
        if n.scope != .universe { o["scope"] = .string(n.scope.description) }
        if n.protocolID != .boot && n.protocolID.rawValue != 0 { o["protocol"] = .string(n.protocolID.description) }
        o["flags"] = .strings(RouteNexthop(flags: UInt8(truncatingIfNeeded: n.flags)).flagNames)
        if n.fdb { o["fdb"] = .null }
        return o.value
    }

    /// `ip -j neigh show`.
    public func neighbor(_ n: Neighbor) -> JSONValue {
        var o = JSONObject()
        o["dst"] = .string(n.key.address.description)
        o["dev"] = name(n.key.interface)
        o["lladdr"] = n.lladdr.map { .string($0.description) }
        if n.isRouter { o["router"] = .null }
        o["state"] = .strings(n.state.names)
        return o.value
    }

    /// `ip -j netconf show`: `interface` is a name, `all` or `default`.
    public func netconf(_ c: NetConf) -> JSONValue {
        var o = JSONObject()
        o["family"] = .string(c.key.family.description)
        switch c.key.scope {
        case .all: o["interface"] = .string("all")
        case .default: o["interface"] = .string("default")
        case .interface(let i): o["interface"] = name(i)
        }
        o["forwarding"] = c.forwarding.map(JSONValue.bool)
        o["rp_filter"] = c.rpFilter.map { .string($0 == 0 ? "off" : $0 == 1 ? "strict" : $0 == 2 ? "loose" : String($0)) }
        o["mc_forwarding"] = c.mcForwarding.map(JSONValue.bool)
        o["proxy_neigh"] = c.proxyNeighbor.map(JSONValue.bool)
        o["ignore_routes_with_linkdown"] = c.ignoreRoutesWithLinkdown.map(JSONValue.bool)
        return o.value
    }

    /// `ip -j rule show` (both families; `family` added), with iproute2's text in `rule`.
    public func rule(_ r: RoutingRule) -> JSONValue {
        var o = JSONObject()
        o["family"] = .string(r.family.description)
        o["priority"] = JSONValue(r.priority)
        o["src"] = .string(r.source.map(\.description) ?? "all")
        o["dst"] = r.destination.map { .string($0.description) }
        o["iif"] = r.inputInterface.map(JSONValue.string)
        o["oif"] = r.outputInterface.map(JSONValue.string)
        o["l3mdev"] = r.l3mdev ? .bool(true) : nil
        o["table"] = r.action == RoutingRule.actionToTable && !r.l3mdev ? .string(r.table.description) : nil
        o["rule"] = .string(r.selectorAndAction)
        return o.value
    }

    /// `tc -j qdisc show`: kind, handle, parent, dev.
    public func qdisc(_ q: Qdisc) -> JSONValue {
        var o = JSONObject()
        o["kind"] = .string(q.kind)
        o["handle"] = .string(Qdisc.handleText(q.key.handle))
        o["parent"] = .string(q.parent == Qdisc.rootParent ? "root" : Qdisc.handleText(q.parent))
        o["dev"] = name(q.key.interface)
        return o.value
    }

    /// `tc -j filter show`: parent, protocol, pref, kind, handle, dev.
    public func tcFilter(_ f: TCFilter) -> JSONValue {
        var o = JSONObject()
        o["parent"] = .string(Qdisc.handleText(f.key.parent))
        o["protocol"] = .string("0x" + String(UInt16(bigEndian: f.key.proto), radix: 16))
        o["pref"] = .int(Int64(f.key.priority))
        o["kind"] = .string(f.kind)
        o["handle"] = .string("0x" + String(f.key.handle, radix: 16))
        o["dev"] = name(f.key.interface)
        return o.value
    }

    /// iproute2's names for `ifi_flags`, in its order; `NO-CARRIER` first when up without carrier.
    public static func linkFlagNames(_ flags: UInt32) -> [String] {
        let table: [(UInt32, String)] = [
            (0x8, "LOOPBACK"), (0x2, "BROADCAST"), (0x10, "POINTOPOINT"), (0x1000, "MULTICAST"), (0x80, "NOARP"),
            (0x200, "ALLMULTI"), (0x100, "PROMISC"), (0x400, "MASTER"), (0x800, "SLAVE"), (0x4, "DEBUG"),
            (0x8000, "DYNAMIC"), (0x4000, "AUTOMEDIA"), (0x2000, "PORTSEL"), (0x20, "NOTRAILERS"), (0x1, "UP"),
            (0x10000, "LOWER_UP"), (0x20000, "DORMANT"), (0x40000, "ECHO"),
        ]
        var out: [String] = []
        if flags & 0x1 != 0 && flags & 0x40 == 0 { out.append("NO-CARRIER") }
        for (bit, name) in table where flags & bit != 0 { out.append(name) }
        return out
    }

    /// The whole mirror, one array per table, each sorted by the object's identity.
    public static func tables(_ t: MirrorTables) -> JSONValue {
        let r = IPRouteJSON(links: t.links)
        return .object([
            ("links", .array(t.links.values.sorted { $0.index < $1.index }.map(r.link))),
            ("vlans", .array(t.vlans.values.sorted { $0.key < $1.key }.map(r.vlan))),
            ("fdb", .array(t.fdb.values.sorted { $0.key < $1.key }.map(r.fdb))),
            ("mdb", .array(t.mdb.values.sorted { $0.key < $1.key }.map(r.mdb))),
            ("addresses", .array(t.addresses.values.sorted { $0.key < $1.key }.map(r.address))),
            ("routes", .array(t.routes.all.sorted { $0.key < $1.key }.map(r.route))),
            ("nexthops", .array(t.nexthops.values.sorted { $0.id < $1.id }.map(r.nexthop))),
            ("neighbors", .array(t.neighbors.values.sorted { $0.key < $1.key }.map(r.neighbor))),
            ("netconf", .array(t.netconf.values.sorted { $0.key < $1.key }.map(r.netconf))),
            ("rules", .array(t.rules.keys.sorted().map(r.rule))),
            ("qdiscs", .array(t.qdiscs.values.sorted { $0.key < $1.key }.map(r.qdisc))),
            ("filters", .array(t.tcFilters.values.sorted { $0.key < $1.key }.map(r.tcFilter))),
        ])
    }

    /// One delta: `{"change":"added","table":"route","object":{…}}`; changes carry `"old"` too.
    public func delta(_ d: MirrorDelta) -> JSONValue {
        func wrap<T>(_ c: Change<T>, _ render: (T) -> JSONValue) -> JSONValue {
            var o = JSONObject()
            o["change"] = .string(c.verb)
            o["table"] = .string(d.table)
            o["object"] = render(c.current)
            if case .changed(let old, _) = c { o["old"] = render(old) }
            return o.value
        }
        switch d {
        case .link(let c): return wrap(c, link)
        case .vlan(let c): return wrap(c, vlan)
        case .fdb(let c): return wrap(c, fdb)
        case .mdb(let c): return wrap(c, mdb)
        case .address(let c): return wrap(c, address)
        case .route(let c): return wrap(c, route)
        case .nexthop(let c): return wrap(c, nexthop)
        case .neighbor(let c): return wrap(c, neighbor)
        case .netfilter(let c): return wrap(c, netfilter)
        case .netconf(let c): return wrap(c, netconf)
        case .rule(let c): return wrap(c, rule)
        case .qdisc(let c): return wrap(c, qdisc)
        case .tcFilter(let c): return wrap(c, tcFilter)
        }
    }

    /// The netfilter state: its active base chains in `nft -j list chains` fields (plus
    /// `rules`), and br_netfilter's switches.
    public func netfilter(_ n: NetfilterState) -> JSONValue {
        var o = JSONObject()
        o["chains"] = .array(n.chains.filter(\.isActive).map { c in
            var j = JSONObject()
            j["family"] = .string(c.family.description)
            j["table"] = .string(c.table)
            j["name"] = .string(c.name)
            j["hook"] = .string(c.hookName)
            j["prio"] = .int(Int64(c.priority))
            j["policy"] = .string(c.dropsByPolicy ? "drop" : "accept")
            if !c.devices.isEmpty { j["dev"] = .array(c.devices.map { .string($0) }) }
            j["rules"] = .int(Int64(c.rules))
            return j.value
        })
        o["bridge-nf-call-iptables"] = .bool(n.bridgeCallsIPTables)
        o["bridge-nf-call-ip6tables"] = .bool(n.bridgeCallsIP6Tables)
        o["bridge-nf-call-arptables"] = .bool(n.bridgeCallsARPTables)
        return o.value
    }
}

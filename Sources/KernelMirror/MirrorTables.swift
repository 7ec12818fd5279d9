import Netlink
import SwitchModel

/// The mirrored kernel state: one table per object kind, keyed by the kernel's identity
/// of that object. A value type: a copy is a consistent snapshot.
public struct MirrorTables: Sendable, Equatable {
    public var links: [IfIndex: Link] = [:]
    public var vlans: [BridgeVLAN.Key: BridgeVLAN] = [:]
    public var fdb: [FDBEntry.Key: FDBEntry] = [:]
    public var mdb: [MDBEntry.Key: MDBEntry] = [:]
    public var addresses: [InterfaceAddress.Key: InterfaceAddress] = [:]
    public var routes = RouteStore()
    public var nexthops: [UInt32: NexthopObject] = [:]
    public var neighbors: [Neighbor.Key: Neighbor] = [:]
    /// Per-device IP settings (`ip netconf`): forwarding per family and device, `all`, `default`.
    public var netconf: [NetConf.Key: NetConf] = [:]
    /// Policy routing rules (`ip rule`), each with how many identical copies the kernel holds
    /// (it has no id for a rule, and `RTM_DELRULE` removes one copy).
    public var rules: [RoutingRule: Int] = [:]
    /// Qdiscs and tc filters (`tc qdisc`, `tc filter`).
    public var qdiscs: [Qdisc.Key: Qdisc] = [:]
    public var tcFilters: [TCFilter.Key: TCFilter] = [:]

    public init() {}

    /// An IPv6 route that replaced another (`NLM_F_REPLACE`, `fib6_add_rt2node`) took the
    /// place of the route at the same table, prefix and metric — a gateway route, or a
    /// device or reject route keyed by its device — and the kernel announces only the new
    /// one. The others at that place leave the mirror.
    mutating func removeReplacedIPv6Routes(by r: Route, into deltas: inout [MirrorDelta]) {
        for interface in [nil] + links.keys.map(Optional.some) where interface != r.key.interface {
            var key = r.key
            key.interface = interface
            if let old = routes.remove(key) { deltas.append(.route(.removed(old))) }
        }
    }

    /// A `self` entry on a vxlan device without a destination, for a MAC the device holds
    /// with one: not an entry of the device's table but the echo `rtnl_fdb_add` and
    /// `rtnl_fdb_del` send after the driver's own notification (`rtnl_fdb_notify`, no
    /// `NDA_DST`) on kernels that echo every driver (seen on 6.1: `bridge fdb append
    /// 00:00:00:00:00:00 dev vx0 dst 10.0.4.1` announces the entry with its `dst`, then
    /// once more without; the dump lists only the first; 6.18 sends no echo). An entry
    /// added without a destination for a MAC the device does not hold is kept: it is real
    /// (its remote is the device's default, or none, and the dump lists it).
    func isGenericEcho(_ e: FDBEntry) -> Bool {
        guard e.key.isSelf, e.key.remote == nil, links[e.key.port]?.kind == .vxlan else { return false }
        return fdb.keys.contains {
            $0.port == e.key.port && $0.isSelf && $0.mac == e.key.mac && $0.vlan == e.key.vlan && $0.vni == e.key.vni && $0.remote != nil
        }
    }

    /// A bridge holds one FDB entry per MAC and VLAN: when it moves one to another port
    /// (learning, `bridge fdb replace`, a roaming static entry) it announces the new port
    /// only, never deleting the old (`br_fdb_update`, `fdb_add_entry`). The entry the
    /// mirror holds for the same MAC and VLAN on another port of that bridge (or the bridge
    /// itself) is gone.
    mutating func removeMovedFDB(of e: FDBEntry, in bridge: IfIndex, into deltas: inout [MirrorDelta]) {
        let ports = links.values.lazy.filter { $0.master == bridge }.map(\.index) + [bridge]
        for port in ports where port != e.key.port {
            let old = FDBEntry.Key(port: port, mac: e.key.mac, vlan: e.key.vlan)
            if fdb[old] != nil { fdb.remove(old, MirrorDelta.fdb, into: &deltas) }
        }
    }

    /// What applying a message implies beyond its own deltas.
    public struct Consequences: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// The kernel may have removed routes or nexthops without telling anyone (a link
        /// went down or away, an address was removed): re-dump them.
        public static let redumpRoutes = Consequences(rawValue: 1)
        /// Only routes through the message's link may have changed silently (its carrier
        /// or admin state changed: the kernel flags or flushes the routes over it and says
        /// nothing): re-dump those.
        public static let redumpRoutesThroughLink = Consequences(rawValue: 2)
    }

    /// Applies one kernel message, appending the deltas it causes.
    @discardableResult
    public mutating func apply(_ message: KernelMessage, into deltas: inout [MirrorDelta]) -> Consequences {
        switch message {
        case .newLink(var link):
            link.statistics = nil  // counters are not state: they change without notifications
            let old = links[link.index]
            if link.bridgePort == nil, link.kind != .bridge, old?.bridgePort != nil {
                removeVLANs(of: link.index, into: &deltas)
            }
            links.upsert(link.index, link, MirrorDelta.link, into: &deltas)
            if let old, (old.adminUp && !link.adminUp) || old.carrier != link.carrier { return .redumpRoutesThroughLink }
            return []
        case .delLink(let link):
            removeLink(link.index, into: &deltas)
            return .redumpRoutes
        case .bridgePort(let info):
            guard var link = links[info.port] else { return [] }
            if let attributes = info.attributes { link.bridgePort = attributes }
            links.upsert(link.index, link, MirrorDelta.link, into: &deltas)
            if let list = info.vlans { replaceVLANs(of: info.port, with: list, into: &deltas) }
            return []
        case .bridgePortRemoved(let port):
            if var link = links[port], link.bridgePort != nil {
                link.bridgePort = nil
                link.master = nil
                links.upsert(port, link, MirrorDelta.link, into: &deltas)
            }
            removeVLANs(of: port, into: &deltas)
            return []
        case .newVLAN(let v):
            vlans.upsert(v.key, v, MirrorDelta.vlan, into: &deltas)
        case .delVLAN(let v):
            vlans.remove(v.key, MirrorDelta.vlan, into: &deltas)
        case .newFDB(let e):
            if isGenericEcho(e) { return [] }
            if !e.key.isSelf, let bridge = e.master { removeMovedFDB(of: e, in: bridge, into: &deltas) }
            fdb.upsert(e.key, e, MirrorDelta.fdb, into: &deltas)
        case .delFDB(let e):
            fdb.remove(e.key, MirrorDelta.fdb, into: &deltas)
        case .newMDB(let e):
            mdb.upsert(e.key, e, MirrorDelta.mdb, into: &deltas)
        case .delMDB(let e):
            mdb.remove(e.key, MirrorDelta.mdb, into: &deltas)
        case .newAddress(let a):
            addresses.upsert(a.key, a, MirrorDelta.address, into: &deltas)
        case .delAddress(let a):
            addresses.remove(a.key, MirrorDelta.address, into: &deltas)
            return .redumpRoutes
        case .newRoute(let r, let replaces):
            if replaces, !r.key.destination.address.isIPv4 { removeReplacedIPv6Routes(by: r, into: &deltas) }
            if let old = routes.upsert(r) {
                let now = routes[r.key]!
                if old != now { deltas.append(.route(.changed(old: old, new: now))) }
            } else {
                deltas.append(.route(.added(routes[r.key]!)))
            }
        case .delRoute(let r):
            applyRouteDelete(r, into: &deltas)
        case .newNexthop(let n):
            nexthops.upsert(n.id, n, MirrorDelta.nexthop, into: &deltas)
        case .delNexthop(let n):
            nexthops.remove(n.id, MirrorDelta.nexthop, into: &deltas)
            return .redumpRoutes
        case .newNeighbor(let n):
            neighbors.upsert(n.key, n, MirrorDelta.neighbor, into: &deltas)
        case .delNeighbor(let n):
            neighbors.remove(n.key, MirrorDelta.neighbor, into: &deltas)
        case .newNetConf(let c):
            netconf.upsert(c.key, netconf[c.key].map { $0.merging(c) } ?? c, MirrorDelta.netconf, into: &deltas)
        case .delNetConf(let c):
            netconf.remove(c.key, MirrorDelta.netconf, into: &deltas)
        case .newRule(let r):
            rules[r, default: 0] += 1
            if rules[r] == 1 { deltas.append(.rule(.added(r))) }
        case .delRule(let r):
            guard let n = rules[r] else { return [] }
            rules[r] = n > 1 ? n - 1 : nil
            if n == 1 { deltas.append(.rule(.removed(r))) }
        case .newQdisc(let q):
            qdiscs.upsert(q.key, q, MirrorDelta.qdisc, into: &deltas)
        case .delQdisc(let q):
            qdiscs.remove(q.key, MirrorDelta.qdisc, into: &deltas)
            // Its filters go with it, unannounced.
            for (k, _) in tcFilters where k.interface == q.key.interface && k.parent >> 16 == q.key.handle >> 16 {
                tcFilters.remove(k, MirrorDelta.tcFilter, into: &deltas)
            }
        case .newTCFilter(let f):
            tcFilters.upsert(f.key, f, MirrorDelta.tcFilter, into: &deltas)
        case .delTCFilter(let f):
            // `tc filter del dev X ingress [prio P]` deletes a whole priority or hook at once.
            let w = f.key
            for (k, _) in tcFilters where k.interface == w.interface && k.parent == w.parent
                && (w.priority == 0 || k.priority == w.priority) && (w.handle == 0 || k.handle == w.handle) {
                tcFilters.remove(k, MirrorDelta.tcFilter, into: &deltas)
            }
        }
        return []
    }

    /// IPv6 announces the removal of one path of a multipath route as an `RTM_DELROUTE`
    /// naming just that path; the route itself stays with the remaining paths.
    private mutating func applyRouteDelete(_ r: Route, into deltas: inout [MirrorDelta]) {
        guard let old = routes[r.key] else { return }
        if r.key.family == .ipv6, old.nexthops.count > 1, r.nexthops.count == 1 {
            var remaining = old.nexthops
            if let i = remaining.firstIndex(where: { $0.gateway == r.nexthops[0].gateway && $0.interface == r.nexthops[0].interface }) {
                remaining.remove(at: i)
                var now = old
                now.nexthops = remaining
                routes.upsert(now)
                deltas.append(.route(.changed(old: old, new: routes[r.key]!)))
                return
            }
        }
        routes.remove(r.key)
        deltas.append(.route(.removed(old)))
    }

    private mutating func removeLink(_ index: IfIndex, into deltas: inout [MirrorDelta]) {
        // The kernel announces most of these removals itself, but not all (device FDB
        // entries, VLANs): sweep everything that names the interface.
        removeVLANs(of: index, into: &deltas)
        for (k, _) in fdb where k.port == index { fdb.remove(k, MirrorDelta.fdb, into: &deltas) }
        for (k, _) in mdb where k.port == index || k.bridge == index { mdb.remove(k, MirrorDelta.mdb, into: &deltas) }
        for (k, _) in tcFilters where k.interface == index { tcFilters.remove(k, MirrorDelta.tcFilter, into: &deltas) }
        for (k, _) in qdiscs where k.interface == index { qdiscs.remove(k, MirrorDelta.qdisc, into: &deltas) }
        for (k, _) in addresses where k.interface == index { addresses.remove(k, MirrorDelta.address, into: &deltas) }
        for (k, _) in neighbors where k.interface == index { neighbors.remove(k, MirrorDelta.neighbor, into: &deltas) }
        for (k, _) in netconf where k.scope == .interface(index) { netconf.remove(k, MirrorDelta.netconf, into: &deltas) }
        links.remove(index, MirrorDelta.link, into: &deltas)
    }

    private mutating func removeVLANs(of port: IfIndex, into deltas: inout [MirrorDelta]) {
        for (k, _) in vlans where k.port == port { vlans.remove(k, MirrorDelta.vlan, into: &deltas) }
    }

    private mutating func replaceVLANs(of port: IfIndex, with list: [PortVLAN], into deltas: inout [MirrorDelta]) {
        var wanted: [BridgeVLAN.Key: BridgeVLAN] = [:]
        for v in list {
            var entry = BridgeVLAN(port: port, vlan: v)
            // Per-VLAN STP state only comes with RTM_NEWVLAN; keep it across AF_BRIDGE updates.
            if entry.vlan.state == nil { entry.vlan.state = vlans[entry.key]?.vlan.state }
            wanted[entry.key] = entry
        }
        for (k, _) in vlans where k.port == port && wanted[k] == nil { vlans.remove(k, MirrorDelta.vlan, into: &deltas) }
        for (k, v) in wanted { vlans.upsert(k, v, MirrorDelta.vlan, into: &deltas) }
    }

    /// Appends the deltas that turn `self` into `new` — the sweep step of a resync.
    ///
    /// Everything that shapes how routes are valued — links, addresses, forwarding
    /// settings, rules, qdiscs and filters, neighbours, nexthops — comes before the routes,
    /// so a first dump of a million routes values each once, not once on arrival and again
    /// when a later setting changes the topology under it.
    public func diff(to new: MirrorTables, into deltas: inout [MirrorDelta]) {
        links.diff(to: new.links, MirrorDelta.link, into: &deltas)
        vlans.diff(to: new.vlans, MirrorDelta.vlan, into: &deltas)
        fdb.diff(to: new.fdb, MirrorDelta.fdb, into: &deltas)
        mdb.diff(to: new.mdb, MirrorDelta.mdb, into: &deltas)
        addresses.diff(to: new.addresses, MirrorDelta.address, into: &deltas)
        netconf.diff(to: new.netconf, MirrorDelta.netconf, into: &deltas)
        // Rules are compared by presence: a second identical copy is no new object.
        for r in rules.keys where new.rules[r] == nil { deltas.append(.rule(.removed(r))) }
        for r in new.rules.keys where rules[r] == nil { deltas.append(.rule(.added(r))) }
        qdiscs.diff(to: new.qdiscs, MirrorDelta.qdisc, into: &deltas)
        tcFilters.diff(to: new.tcFilters, MirrorDelta.tcFilter, into: &deltas)
        neighbors.diff(to: new.neighbors, MirrorDelta.neighbor, into: &deltas)
        nexthops.diff(to: new.nexthops, MirrorDelta.nexthop, into: &deltas)
        routes.diff(to: new.routes, into: &deltas)
    }

    /// As `diff(to:into:)` for a re-dump of the nexthops and of the routes through
    /// `links` only (`fresh` holds every nexthop and just those routes): nexthops are
    /// compared whole; of the routes, only those through a link of `links` — directly or by
    /// a single nexthop object, as the kernel's filtered dump selects them — and whatever
    /// the fresh dump holds. (The kernel's filter leaves out routes over nexthop groups,
    /// whose members it drops silently: `groupsUse` sends those to a full re-dump.)
    func diffRoutes(to fresh: MirrorTables, through links: Set<IfIndex>, into deltas: inout [MirrorDelta]) {
        nexthops.diff(to: fresh.nexthops, MirrorDelta.nexthop, into: &deltas)
        routes.diff(to: fresh.routes, within: { uses($0, links) || fresh.uses($0, links) }, into: &deltas)
    }

    /// Whether `route` forwards through one of `links`: its own nexthops, or its (single)
    /// nexthop object — what the kernel's dump filtered by `RTA_OIF` returns.
    func uses(_ route: Route, _ links: Set<IfIndex>) -> Bool {
        if route.nexthops.contains(where: { $0.interface.map(links.contains) == true }) { return true }
        if let i = route.key.interface, links.contains(i) { return true }
        guard let id = route.nexthopID, let n = nexthops[id], n.group.isEmpty else { return false }
        return n.interface.map(links.contains) == true
    }

    /// Whether a nexthop group has a member through one of `links`.
    func groupsUse(_ links: Set<IfIndex>) -> Bool {
        nexthops.values.contains { n in n.group.contains { m in nexthops[m.id]?.interface.map(links.contains) == true } }
    }

    /// The number of objects across all tables.
    public var objectCount: Int {
        links.count + vlans.count + fdb.count + mdb.count + addresses.count + routes.count + nexthops.count + neighbors.count
            + netconf.count + rules.count + qdiscs.count + tcFilters.count
    }
}

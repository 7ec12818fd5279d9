import SwitchDriver
import SwitchModel

/// Stage 5: routing — router interfaces, neighbours, nexthops, nexthop groups, routes.
///
/// Router interfaces route per family as the kernel would (forwarding sysctls, policy
/// rules, VRF membership: Topology+RoutingPolicy.swift).
///
/// The kernel counterparts are interfaces with addresses (`RTM_NEWADDR`), ARP/ND entries
/// (`RTM_NEWNEIGH`), nexthop objects (`RTM_NEWNEXTHOP`) and routes (`RTM_NEWROUTE`) —
/// switchdev's FIB and neighbour notifiers, mlxsw's RIFs.
///
/// Router interfaces and neighbours are functions of the topology and the stored
/// neighbours. Nexthops and groups are reference counted in a `NexthopRegistry`. Routes
/// are kept per slot (VRF, prefix) as compact candidates; the winner's hardware form
/// depends only on itself and on `Context`: which interfaces have a router interface,
/// and how each kernel nexthop object maps. When either changes, only the routes that
/// use the interface or object are re-evaluated, and only when some route uses them.
struct RouterStage: Sendable {
    /// How routes through a kernel nexthop object map.
    enum ObjectClass: Hashable, Sendable {
        /// Through the object's group (`.group(id)`).
        case group
        /// Dropped (a blackhole object).
        case drop
        /// Trapped to the CPU, with the reason.
        case trap(String)
    }

    /// Everything a route's hardware form depends on besides the route.
    struct Context: Sendable {
        /// Interfaces with a programmable router interface. Routes, nexthops and groups
        /// through any other interface cannot be forwarded by the chip.
        var routable: Set<IfIndex> = []
        /// Per known kernel nexthop object; unknown objects map as `.group`.
        var classes: [UInt32: ObjectClass] = [:]
        /// Per family, why no packet of it is routed by the chip (``familyTrap(_:in:)``):
        /// every route of the family shows it.
        var familyTraps: [AddressFamily: String] = [:]
    }

    let features: DriverCapabilities.Features
    let maxECMPWidth: Int
    var context = Context()
    var registry = NexthopRegistry()
    var routes = RouteTable()
    /// Resolved neighbours with a unicast MAC, per interface.
    private var neighbors: [IfIndex: [IPAddress: MACAddress]] = [:]
    /// Kernel nexthop objects by id, and the groups each one is a member of.
    var objects: [UInt32: NexthopObject] = [:]
    var groupsContaining: [UInt32: Set<UInt32>] = [:]
    /// The registry handle each single-path object holds.
    var objectHandles: [UInt32: UInt32] = [:]
    /// How many route candidates use each interface and each nexthop object.
    var interfaceUse: [IfIndex: Int] = [:]
    var objectUse: [UInt32: Int] = [:]

    init(features: DriverCapabilities.Features, maxECMPWidth: Int) {
        self.features = features
        self.maxECMPWidth = maxECMPWidth
    }

    // MARK: Router interfaces

    /// The router interface of a link: a chip port that is not a bridge port, or an
    /// offloaded bridge, with a MAC and an address other than IPv6 link-local — or, in a
    /// VRF, without one (the kernel routes what arrives on an interface without addresses
    /// too; EVPN's L3VNI SVI has none, and routes reach the remote VTEPs through it
    /// `onlink`). A bridge with VLAN filtering binds its own PVID (`bridge vlan … self
    /// pvid`); without one it stays on the CPU.
    static func routerInterface(of link: IfIndex, in topology: Topology) -> DesiredObject? {
        guard let l = topology.links[link], let mac = l.mac,
              topology.hasRoutableAddress(link) || topology.vrf(of: link) != nil else { return nil }
        let id = RouterInterfaceID(rawValue: link.rawValue)
        if l.kind == .macvlan {
            // Bound where its lower's would be, told apart by its own MAC.
            guard topology.macvlanBlocker(l) == nil, let lower = l.link,
                  let binding = routerInterfaceBinding(of: lower, in: topology) else { return nil }
            let (families, blocked) = topology.routedFamilies(of: link)
            let rif = RouterInterface(id: id, binding: binding, mac: mac, mtu: l.mtu, routedFamilies: families,
                                      vrf: topology.routingTable(of: link) ?? RouteTable.mainVRF)
            return DesiredObject(.routerInterface(rif), trapReason: blocked)
        }
        if let p = topology.portID(of: link) {
            guard topology.bridge(of: link) == nil else { return nil }
            let (families, blocked) = topology.routedFamilies(of: link)
            let rif = RouterInterface(id: id, binding: .port(p), mac: mac, mtu: l.mtu, routedFamilies: families,
                                      vrf: topology.routingTable(of: link) ?? RouteTable.mainVRF)
            return DesiredObject(.routerInterface(rif), trapReason: blocked)
        }
        guard let s = topology.offloadedBridge(link) else { return nil }
        let (families, blocked) = topology.routedFamilies(of: link)
        let pvid = s.vlanFiltering ? topology.pvid(of: link) : VLANID.none
        let rif = RouterInterface(id: id, binding: .bridge(s.bridge, pvid ?? .none), mac: mac, mtu: l.mtu,
                                  routedFamilies: families, vrf: topology.routingTable(of: link) ?? RouteTable.mainVRF)
        guard pvid != nil else {
            return DesiredObject(.routerInterface(rif), trapReason: "\(l.name) has no PVID of its own", programmable: false)
        }
        return DesiredObject(.routerInterface(rif), trapReason: blocked)
    }

    /// Where a router interface over `link` binds: a chip port outside any bridge, or an
    /// offloaded bridge's own PVID (VLAN 0 without VLAN filtering); nil when it cannot.
    static func routerInterfaceBinding(of link: IfIndex, in topology: Topology) -> RouterInterfaceBinding? {
        if let p = topology.portID(of: link) { return topology.bridge(of: link) == nil ? .port(p) : nil }
        guard let s = topology.offloadedBridge(link) else { return nil }
        if !s.vlanFiltering { return .bridge(s.bridge, .none) }
        return topology.pvid(of: link).map { .bridge(s.bridge, $0) }
    }

    /// Why no packet of `family` is routed by the chip, whatever its ingress — the reason
    /// every route of the family shows: a policy rule, IPv6 forwarding off, or no router
    /// interface routing the family (IPv4 forwarding off on each, `net.ipv4.ip_forward=0`
    /// when `all` is off too; members of a VRF whose table is not known).
    func familyTrap(_ family: AddressFamily, in topology: Topology) -> String? {
        if let why = topology.familyBlocker(family) { return why }
        guard !context.routable.isEmpty,
              !context.routable.contains(where: { topology.routingBlocker(family, on: $0) == nil && topology.routingTable(of: $0) != nil })
        else { return nil }
        if family == .ipv4, !topology.forwards(.ipv4, .all) { return "net.ipv4.ip_forward=0" }
        return "no router interface routes \(family == .ipv4 ? "IPv4" : "IPv6")"
    }

    /// Brings `context.familyTraps` in line with the topology, re-valuing every route of a
    /// family whose reason changed (a pass over all routes, only then).
    mutating func syncFamilyTraps(from old: Topology, to topology: Topology, into sink: inout ChangeSink) {
        for family in [AddressFamily.ipv4, .ipv6] {
            let reason = familyTrap(family, in: topology)
            guard reason != context.familyTraps[family] else { continue }
            let before = context
            context.familyTraps[family] = reason
            var hits: [(slot: RouteSlot, old: DesiredObject, new: DesiredObject)] = []
            routes.forEachWinner { slot, c in
                guard slot.prefix.family == family else { return }
                let was = routeObject(slot, c, in: before, old)
                let now = routeObject(slot, c, in: context, topology)
                if was != now { hits.append((slot, was, now)) }
            }
            hits.sort { $0.slot < $1.slot }
            for hit in hits { sink.change(.route(vrf: hit.slot.vrf, hit.slot.prefix), from: hit.old, to: hit.new) }
        }
    }

    static func isRoutable(_ link: IfIndex, in topology: Topology) -> Bool {
        routerInterface(of: link, in: topology)?.programmable == true
    }

    /// Why traffic through `link` cannot be routed by the chip.
    static func noRouterInterface(_ link: IfIndex, in topology: Topology) -> String {
        if let l = topology.links[link], l.kind == .macvlan {
            return "macvlan \(l.name): \(topology.macvlanBlocker(l) ?? "no router interface")"
        }
        if topology.links[link] != nil, topology.portID(of: link) == nil, !topology.isBridge(link) {
            return "\(topology.name(of: link)) is not a switch port"
        }
        return "\(topology.name(of: link)) has no router interface"
    }

    func keys(of link: IfIndex, in topology: Topology, into keys: inout Set<HardwareKey>) {
        let rif = RouterInterfaceID(rawValue: link.rawValue)
        if topology.portID(of: link) != nil || topology.isBridge(link) || topology.links[link]?.kind == .macvlan {
            keys.insert(.routerInterface(rif))
        }
        for address in (neighbors[link] ?? [:]).keys { keys.insert(.neighbor(rif, address)) }
    }

    /// Brings `context.routable` in line with the topology for `links`, re-evaluating the
    /// nexthops, groups and routes through an interface whose router interface came or
    /// went — or, for one without, whose reason changed (the link appeared or was renamed).
    mutating func syncRoutable(_ links: Set<IfIndex>, from old: Topology, to topology: Topology,
                               into sink: inout ChangeSink) {
        for link in links.sorted() {
            let now = Self.isRoutable(link, in: topology)
            let flipped = now != context.routable.contains(link)
            let relabelled = !now && Self.noRouterInterface(link, in: old) != Self.noRouterInterface(link, in: topology)
            guard flipped || relabelled else { continue }
            let before = context
            if now { context.routable.insert(link) } else { context.routable.remove(link) }
            let rif = RouterInterfaceID(rawValue: link.rawValue)
            for h in registry.handles(through: rif) {
                sink.change(.nexthop(registry.nexthop(h)), from: nexthopObject(h, in: before), to: nexthopObject(h, in: context))
            }
            for g in registry.groups(through: rif) {
                sink.change(.nexthopGroup(registry.groupID(g)),
                            from: groupObject(g, in: before), to: groupObject(g, in: context))
            }
            var ids = Set(objects.values.filter { $0.interface == link }.map(\.id))
            for id in ids { ids.formUnion(groupsContaining[id] ?? []) }
            for id in ids.sorted() {
                sink.change(.nexthopGroup(ofObject: id),
                            from: objectGroup(id, routable: before.routable), to: objectGroup(id, routable: context.routable))
            }
            let changed = reclassify(ids, in: topology)
            rescanRoutes(through: link, objects: changed, from: before, old, to: topology, into: &sink)
        }
    }

    // MARK: Neighbours

    mutating func apply(_ change: Change<Neighbor>) {
        let k = change.current.key
        if case .changed(let old, _) = change, old.key != k { forget(old.key) }
        if case .removed = change { forget(k); return }
        let n = change.current
        if n.isResolved, let mac = n.lladdr, !mac.isMulticast, mac != .zero {
            neighbors[k.interface, default: [:]][k.address] = mac
        } else {
            forget(k)
        }
    }

    private mutating func forget(_ k: Neighbor.Key) {
        neighbors[k.interface]?[k.address] = nil
        if neighbors[k.interface]?.isEmpty == true { neighbors[k.interface] = nil }
    }

    static func neighborKey(of n: Neighbor) -> HardwareKey {
        .neighbor(of: n)
    }

    /// A resolved neighbour on an interface with a router interface.
    func neighborValue(_ rif: RouterInterfaceID, _ address: IPAddress, in topology: Topology) -> DesiredObject? {
        let link = IfIndex(rawValue: rif.rawValue)
        guard let mac = neighbors[link]?[address], Self.isRoutable(link, in: topology) else { return nil }
        return DesiredObject(.neighbor(HardwareNeighbor(rif: rif, address: address, mac: mac)))
    }

    // MARK: Registry objects

    /// A nexthop in use, through an interface with a router interface.
    func nexthopObject(_ h: UInt32, in c: Context) -> DesiredObject? {
        let nh = registry.nexthop(h)
        guard registry.uses(h) > 0, c.routable.contains(IfIndex(rawValue: nh.rif.rawValue)) else { return nil }
        return DesiredObject(.nexthop(nh))
    }

    /// A synthesized group in use whose every member has a router interface.
    func groupObject(_ g: UInt32, in c: Context) -> DesiredObject? {
        let members = registry.members(ofGroup: g)
        guard registry.groupUses(g) > 0,
              members.allSatisfy({ c.routable.contains(IfIndex(rawValue: $0.nexthop.rif.rawValue)) }) else { return nil }
        return DesiredObject(.nexthopGroup(HardwareNexthopGroup(id: registry.groupID(g), members: members)))
    }

    mutating func retain(_ nexthop: HardwareNexthop, into sink: inout ChangeSink) -> UInt32 {
        let (h, isNew) = registry.retain(nexthop)
        if isNew { sink.change(.nexthop(nexthop), from: nil, to: nexthopObject(h, in: context)) }
        return h
    }

    mutating func release(_ h: UInt32, into sink: inout ChangeSink) {
        let old = nexthopObject(h, in: context)
        if registry.release(h) { sink.change(.nexthop(registry.nexthop(h)), from: old, to: nil) }
    }

    mutating func retainGroup(_ members: [HardwareNexthopGroup.Member], into sink: inout ChangeSink) -> UInt32 {
        if let g = registry.group(for: members) {
            registry.retainGroup(g)
            return g
        }
        let handles = members.map { retain($0.nexthop, into: &sink) }
        let g = registry.makeGroup(members, handles: handles)
        sink.change(.nexthopGroup(registry.groupID(g)), from: nil, to: groupObject(g, in: context))
        return g
    }

    mutating func releaseGroup(_ g: UInt32, into sink: inout ChangeSink) {
        let old = groupObject(g, in: context)
        guard let handles = registry.releaseGroup(g) else { return }
        sink.change(.nexthopGroup(registry.groupID(g)), from: old, to: nil)
        for h in handles { release(h, into: &sink) }
    }
}

import SwitchDriver
import SwitchModel

/// Kernel routes (`RTM_NEWROUTE`) → hardware routes.
///
/// Several kernel routes can share a slot (VRF, prefix): other metrics or TOS, IPv6
/// routes per device, local-table addresses moved to VRF 254. The chip holds one; the
/// kernel's choice wins (local table, then TOS 0, then the lowest metric), and removing
/// it promotes the next.
extension RouterStage {
    /// `RTNH_F_DEAD`.
    static let deadNexthopFlag: UInt8 = 0x01

    /// Makes room for the slots a big batch adds (a full table at once grows its
    /// tables in one step, not by doubling a dozen times).
    mutating func reserveCapacity(for deltas: [MirrorDelta]) {
        var v4 = 0, v6 = 0
        for case .route(.added(let r)) in deltas {
            if r.key.family == .ipv4 { v4 += 1 } else { v6 += 1 }
        }
        routes.reserveCapacity(ipv4: v4, ipv6: v6)
    }

    mutating func apply(_ change: Change<Route>, in topology: Topology, into sink: inout ChangeSink) {
        switch change {
        case .added(let r):
            add(r, in: topology, into: &sink)
        case .changed(let old, let new):
            if Self.slot(of: old) != Self.slot(of: new) { remove(old, in: topology, into: &sink) }
            add(new, in: topology, into: &sink)
        case .removed(let r):
            remove(r, in: topology, into: &sink)
        }
    }

    /// The slot of a route the chip should know, or nil for routes it never sees: the
    /// kernel identity every module shares (`HardwareKey.routeSlot(of:)`).
    static func slot(of r: Route) -> RouteSlot? {
        HardwareKey.routeSlot(of: r).map { RouteSlot(vrf: $0.vrf, prefix: $0.prefix) }
    }

    private static func candidate(_ r: Route, target: RouteTarget) -> RouteCandidate {
        RouteCandidate(metric: r.key.metric, device: r.key.interface?.rawValue ?? 0, target: target,
                       tos: r.key.tos, fromLocalTable: r.key.table == .local)
    }

    private mutating func add(_ r: Route, in topology: Topology, into sink: inout ChangeSink) {
        guard let slot = Self.slot(of: r) else { return }
        let before = routes.winner(slot).map { routeObject(slot, $0, in: context, topology) }
        let target = makeTarget(r, into: &sink)
        let replaced = routes.insert(Self.candidate(r, target: target), at: slot)
        let after = routes.winner(slot).map { routeObject(slot, $0, in: context, topology) }
        sink.change(.route(vrf: slot.vrf, slot.prefix), from: before, to: after)
        if let replaced { releaseTarget(replaced.target, into: &sink) }
    }

    private mutating func remove(_ r: Route, in topology: Topology, into sink: inout ChangeSink) {
        guard let slot = Self.slot(of: r) else { return }
        let before = routes.winner(slot).map { routeObject(slot, $0, in: context, topology) }
        guard let removed = routes.remove(Self.candidate(r, target: .drop), at: slot) else { return }
        let after = routes.winner(slot).map { routeObject(slot, $0, in: context, topology) }
        sink.change(.route(vrf: slot.vrf, slot.prefix), from: before, to: after)
        releaseTarget(removed.target, into: &sink)
    }

    /// What a route asks of the chip, taking the references it needs.
    private mutating func makeTarget(_ r: Route, into sink: inout ChangeSink) -> RouteTarget {
        guard features.contains(r.key.family == .ipv4 ? .ipv4Routing : .ipv6Routing) else { return .noFamily }
        switch r.type {
        case .local, .broadcast, .anycast: return .local
        case .blackhole: return .drop
        case .unicast: break
        default: return .icmp(r.type)
        }
        if let id = r.nexthopID {
            objectUse[id, default: 0] += 1
            return .object(id)
        }
        guard !r.nexthops.isEmpty else { return .unusable(.noPath) }
        let paths = r.nexthops.filter { $0.flags & Self.deadNexthopFlag == 0 }
        guard !paths.isEmpty else { return .unusable(.allDead) }
        if paths.count == 1 {
            guard let oif = paths[0].interface else { return .unusable(.noInterface) }
            interfaceUse[oif, default: 0] += 1
            guard let gateway = paths[0].gateway else { return .attached(oif) }
            let nexthop = HardwareNexthop(rif: RouterInterfaceID(rawValue: oif.rawValue), gateway: gateway)
            return .nexthop(retain(nexthop, into: &sink))
        }
        guard features.contains(.ecmp) else { return .noECMP }
        guard paths.count <= maxECMPWidth else { return .tooWide(UInt16(clamping: paths.count)) }
        var members: [HardwareNexthopGroup.Member] = []
        for p in paths {
            guard let gateway = p.gateway, let oif = p.interface else { return .unusable(.memberWithoutGateway) }
            let nexthop = HardwareNexthop(rif: RouterInterfaceID(rawValue: oif.rawValue), gateway: gateway)
            members.append(HardwareNexthopGroup.Member(nexthop: nexthop, weight: p.weight))
        }
        members.sort { ($0.nexthop, $0.weight) < ($1.nexthop, $1.weight) }
        for rif in Set(members.map(\.nexthop.rif)) { interfaceUse[IfIndex(rawValue: rif.rawValue), default: 0] += 1 }
        return .ecmp(retainGroup(members, into: &sink))
    }

    /// Drops the references `makeTarget` took.
    private mutating func releaseTarget(_ target: RouteTarget, into sink: inout ChangeSink) {
        func unuse(_ link: IfIndex) {
            interfaceUse[link, default: 0] -= 1
            if interfaceUse[link] == 0 { interfaceUse[link] = nil }
        }
        switch target {
        case .attached(let oif):
            unuse(oif)
        case .nexthop(let h):
            unuse(IfIndex(rawValue: registry.nexthop(h).rif.rawValue))
            release(h, into: &sink)
        case .ecmp(let g):
            for rif in Set(registry.members(ofGroup: g).map(\.nexthop.rif)) { unuse(IfIndex(rawValue: rif.rawValue)) }
            releaseGroup(g, into: &sink)
        case .object(let id):
            objectUse[id, default: 0] -= 1
            if objectUse[id] == 0 { objectUse[id] = nil }
        case .local, .drop, .icmp, .tooWide, .noECMP, .noFamily, .unusable:
            break
        }
    }

    /// The hardware route of a slot's winner in a given context. When no packet of the
    /// route's family is routed by the chip (`ctx.familyTraps`), a route that would not
    /// trap anyway says so: its traffic reaches the CPU at the router interface.
    func routeObject(_ slot: RouteSlot, _ c: RouteCandidate, in ctx: Context, _ topology: Topology) -> DesiredObject {
        var d = targetObject(slot, c, in: ctx, topology)
        if d.trapReason == nil, d.programmable, let why = ctx.familyTraps[slot.prefix.family] { d.trapReason = why }
        return d
    }

    private func targetObject(_ slot: RouteSlot, _ c: RouteCandidate, in ctx: Context, _ topology: Topology) -> DesiredObject {
        func route(_ action: RouteAction) -> HardwareObject {
            .route(HardwareRoute(vrf: slot.vrf, prefix: slot.prefix, action: action))
        }
        func trap(_ why: String) -> DesiredObject { DesiredObject(route(.trap(.routeTrap)), trapReason: why) }
        func through(_ rif: RouterInterfaceID) -> IfIndex? {
            let link = IfIndex(rawValue: rif.rawValue)
            return ctx.routable.contains(link) ? nil : link
        }
        switch c.target {
        case .local:
            return DesiredObject(route(.trap(.localAddress)), trapReason: "local address")
        case .drop:
            return DesiredObject(route(.drop))
        case .icmp(let type):
            return trap("\(type) route: the kernel answers with ICMP")
        case .tooWide(let width):
            return trap("ECMP width \(width) exceeds the chip's \(maxECMPWidth)")
        case .noECMP:
            return trap("driver does not support ECMP")
        case .noFamily:
            let family = slot.prefix.family == .ipv4 ? "IPv4" : "IPv6"
            return DesiredObject(route(.trap(.routeTrap)), trapReason: "driver does not support \(family) routing",
                                 programmable: false)
        case .unusable(let problem):
            return trap(problem.reason)
        case .attached(let oif):
            guard ctx.routable.contains(oif) else { return trap(Self.noRouterInterface(oif, in: topology)) }
            return DesiredObject(route(.attached(RouterInterfaceID(rawValue: oif.rawValue))))
        case .nexthop(let h):
            let nh = registry.nexthop(h)
            if let link = through(nh.rif) { return trap(Self.noRouterInterface(link, in: topology)) }
            return DesiredObject(route(.nexthop(nh)))
        case .ecmp(let g):
            if let link = registry.members(ofGroup: g).lazy.compactMap({ through($0.nexthop.rif) }).first {
                return trap(Self.noRouterInterface(link, in: topology))
            }
            return DesiredObject(route(.group(registry.groupID(g))))
        case .object(let id):
            switch ctx.classes[id] ?? .group {
            case .group: return DesiredObject(route(.group(NexthopGroupID(rawValue: id))))
            case .drop: return DesiredObject(route(.drop))
            case .trap(let why): return trap(why)
            }
        }
    }

    /// Re-evaluates the winners that go through `link` or one of `objects`, whose mapping
    /// changed from `before` in `old` to now. Costs a pass over all slots, so it runs only when some
    /// route uses them.
    mutating func rescanRoutes(through link: IfIndex?, objects changed: Set<UInt32>, from before: Context, _ old: Topology,
                               to topology: Topology, into sink: inout ChangeSink) {
        let rif = link.map { RouterInterfaceID(rawValue: $0.rawValue) }
        let used = changed.filter { objectUse[$0, default: 0] > 0 }
        guard link.map({ interfaceUse[$0, default: 0] > 0 }) == true || !used.isEmpty else { return }
        var hits: [(slot: RouteSlot, old: DesiredObject, new: DesiredObject)] = []
        routes.forEachWinner { slot, c in
            let affected = switch c.target {
            case .attached(let oif): oif == link
            case .nexthop(let h): registry.nexthop(h).rif == rif
            case .ecmp(let g): registry.members(ofGroup: g).contains { $0.nexthop.rif == rif }
            case .object(let id): used.contains(id)
            default: false
            }
            guard affected else { return }
            let was = routeObject(slot, c, in: before, old)
            let now = routeObject(slot, c, in: context, topology)
            if was != now { hits.append((slot, was, now)) }
        }
        hits.sort { $0.slot < $1.slot }
        for hit in hits { sink.change(.route(vrf: hit.slot.vrf, hit.slot.prefix), from: hit.old, to: hit.new) }
    }
}

extension RouteTable {
    /// The main table's id (`RT_TABLE_MAIN`), where local-table addresses are placed.
    static let mainVRF: UInt32 = 254
}

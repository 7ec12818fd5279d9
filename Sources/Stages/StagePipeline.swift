import SwitchDriver
import SwitchModel

/// The offload pipeline: mirror deltas in, desired hardware objects out. Pure — no I/O,
/// no driver — given only the driver's capabilities.
///
/// ```
///  [MirrorDelta] ──► link / vlan / address ──► Topology ──┐ (the value before the delta is kept)
///       │                                                 ▼
///       │                     keys of the affected links, valued before and after, by
///       │                     PortsStage · BridgeStage · MulticastStage · TunnelStage ·
///       │                     RouterStage (router interfaces, neighbours) · SRIOVStage; then
///       │                     RouterStage: router interfaces that came or went ──►
///       │                     nexthops, groups, and the routes that use them
///       ├─ fdb ──► BridgeStage + TunnelStage ─┐
///       ├─ mdb ──► MulticastStage             ├─ the touched keys, valued before and after
///       ├─ neighbor ──► RouterStage           ┘
///       └─ route / nexthop ──► RouterStage (refcounted nexthops and groups, per-prefix winner)
///                                   │
///                                   ▼
///           ChangeSink: the last change per key, net no-ops dropped ──► [DesiredChange]
/// ```
///
/// Every object is a function of the mirrored state, so a delta is handled by valuing the
/// keys it can touch before and after it: whatever differs is emitted. Stages keep only
/// what they cannot get from the topology (FDB and MDB entries, neighbours, nexthop
/// objects, route candidates) and the reference counts of shared nexthops and groups.
public struct StagePipeline: Sendable {
    private var topology: Topology
    private let ports = PortsStage()
    private let lags = LAGStage()
    private var bridges = BridgeStage()
    private var multicast = MulticastStage()
    private var tunnels = TunnelStage()
    private let sriov = SRIOVStage()
    private var router: RouterStage
    /// Counts deltas; FDB entries remember when they arrived.
    private var sequence: UInt64 = 0

    public init(capabilities: DriverCapabilities) {
        topology = Topology(capabilities: capabilities)
        router = RouterStage(features: capabilities.features, maxECMPWidth: capabilities.maxECMPWidth)
    }

    /// Takes the ids of the synthesized ECMP groups the hardware holds (a restart's
    /// read-back) as the ids for the same member lists, so a restarted daemon renames no
    /// group. Call before the first `apply`; other objects are ignored.
    public mutating func preferGroupIDs(from held: some Sequence<HardwareObject>) {
        router.registry.preferGroupIDs(held.compactMap { if case .nexthopGroup(let g) = $0 { g } else { nil } })
    }

    /// Makes room for as many routes as the hardware holds (a restart's read-back: the
    /// kernel's table is about as big).
    public mutating func reserveCapacity(like held: some Sequence<HardwareObject>) {
        var v4 = 0, v6 = 0
        for case .route(let r) in held {
            if r.prefix.family == .ipv4 { v4 += 1 } else { v6 += 1 }
        }
        router.routes.reserveCapacity(ipv4: v4, ipv6: v6)
    }

    /// The kernel interface of a chip port or LAG: the port's netdev, the LAG's bond.
    public func kernelLink(of port: PortID) -> IfIndex? { topology.link(of: port) }

    /// The kernel names of the LAGs (their bonds), for rows that name ports.
    public var lagNames: [PortID: String] {
        var names: [PortID: String] = [:]
        for (index, link) in topology.links where link.kind == .bond {
            if let id = topology.portID(of: index) { names[id] = link.name }
        }
        return names
    }

    /// True when a control-plane entry on the vxlan `device` (FRR's EVPN remote MAC, an
    /// operator's static entry) puts `mac` behind a VTEP: hoistd neither writes its own
    /// learning of that MAC over it nor deletes it when the chip's learned copy ages.
    public func tunnelHoldsControlPlaneMAC(_ mac: MACAddress, on device: IfIndex) -> Bool {
        tunnels.holdsControlPlaneMAC(mac, on: device)
    }

    /// Applies a batch of mirror deltas, in order, and returns the desired-state changes.
    /// Each key appears at most once, with its last change; the engine orders by
    /// dependency. A `.remove` is only returned for a key set by an earlier batch.
    public mutating func apply(_ deltas: [MirrorDelta]) -> [DesiredChange] {
        var sink = ChangeSink(expected: deltas.count)
        if deltas.count >= 1 << 12 { router.reserveCapacity(for: deltas) }
        for delta in deltas { apply(delta, into: &sink) }
        return sink.changes
    }

    private mutating func apply(_ delta: MirrorDelta, into sink: inout ChangeSink) {
        sequence += 1
        switch delta {
        case .link(let change):
            let before = topology
            topology.apply(change)
            settle(Topology.scope(of: change, from: before, to: topology), from: before, into: &sink)
        case .vlan(let change):
            // A VLAN changes its member and a vxlan port's tunnel; a PVID also a bridge's own
            // router interface. Never FDB or MDB entries: they name their VLAN.
            let before = topology
            topology.apply(change)
            let v = change.current
            let pvid = change.values.contains { $0.vlan.pvid }
            var keys = Set<HardwareKey>()
            for t in [before, topology] {
                bridges.memberKeys(of: v.port, vids: [v.vlan.vid], in: t, into: &keys)
                ports.keys(of: v.port, in: t, into: &keys)     // per-VLAN STP state (port traps)
                // A vxlan port's tunnel depends on all of its VLANs (one, PVID, untagged).
                tunnels.keys(of: v.port, in: t, into: &keys)
                if pvid {
                    for link in Self.withMacvlans([v.port], before, topology) { router.keys(of: link, in: t, into: &keys) }
                    t.macvlanKeys(of: v.port, into: &keys)
                }
            }
            settle(keys, pvid ? [v.port] : [], from: before, into: &sink)
            // A vxlan port's VLANs decide whether its bridge can stay in the chip.
            let bridgeScope = Topology.masterScope(of: v.port, from: before, to: topology)
            if !bridgeScope.isEmpty { settle(bridgeScope, from: before, into: &sink) }
        case .address(let change):
            let before = topology
            topology.apply(change)
            settle([change.current.key.interface], from: before, into: &sink)
        case .fdb(let change):
            var keys = Set<HardwareKey>()
            for entry in change.values {
                bridges.keys(of: entry, in: topology, into: &keys)
                tunnels.keys(of: entry, in: topology, into: &keys)
            }
            let touched = keys.sorted(by: HardwareKey.stageOrder)
            let before = touched.map { value(of: $0, in: topology) }
            bridges.apply(change, sequence: sequence)
            tunnels.apply(change, sequence: sequence)
            emit(touched, from: before, into: &sink)
        case .mdb(let change):
            let touched = Set(change.values.compactMap(MulticastStage.key(of:))).sorted(by: HardwareKey.stageOrder)
            let before = touched.map { value(of: $0, in: topology) }
            multicast.apply(change)
            emit(touched, from: before, into: &sink)
        case .neighbor(let change):
            let touched = Set(change.values.map(RouterStage.neighborKey(of:))).sorted(by: HardwareKey.stageOrder)
            let before = touched.map { value(of: $0, in: topology) }
            router.apply(change)
            emit(touched, from: before, into: &sink)
        case .qdisc(let change):
            let before = topology
            topology.apply(change)
            settle([change.current.key.interface], from: before, into: &sink)
        case .tcFilter(let change):
            let before = topology
            topology.apply(change)
            settle([change.current.key.interface], from: before, into: &sink)
        case .route(let change):
            router.apply(change, in: topology, into: &sink)
        case .nexthop(let change):
            router.apply(change, in: topology, into: &sink)
        case .netconf(let change):
            // IPv4 forwarding is each device's own; `all` and rules weigh on every router interface.
            let before = topology
            topology.apply(change)
            if case .interface(let link) = change.current.key.scope {
                settle([link], from: before, into: &sink)
            } else {
                settle(topology.routerInterfaceCandidates, from: before, into: &sink)
            }
        case .rule(let change):
            let before = topology
            topology.apply(change)
            settle(topology.routerInterfaceCandidates, from: before, into: &sink)
        case .netfilter(let change):
            // Chains that see bridged traffic keep bridges on the CPU; chains on routing
            // hooks keep that family from being routed by the chip (`Topology.familyBlocker`).
            let before = topology
            topology.netfilter = change.current
            // …and chains on a chip port's own hooks keep that direction of the port on the CPU.
            settle(Topology.bridgeScope(from: before, to: topology).union(topology.routerInterfaceCandidates),
                   from: before, into: &sink)
        }
    }

    /// After a topology change: values every key of the affected links before and after,
    /// then lets the router stage follow router interfaces that came or went.
    private mutating func settle(_ scope: Set<IfIndex>, from before: Topology, into sink: inout ChangeSink) {
        let scope = Self.withMacvlans(scope, before, topology)
        var keys = Set<HardwareKey>()
        for link in scope {
            for t in [before, topology] {
                ports.keys(of: link, in: t, into: &keys)
                lags.keys(of: link, in: t, into: &keys)
                bridges.keys(of: link, in: t, into: &keys)
                multicast.keys(of: link, in: t, into: &keys)
                tunnels.keys(of: link, in: t, into: &keys)
                router.keys(of: link, in: t, into: &keys)
                sriov.keys(of: link, in: t, into: &keys)
                t.macvlanKeys(of: link, into: &keys)
            }
        }
        settle(keys, scope, from: before, into: &sink)
    }

    /// `scope` and the macvlans over its links: a macvlan's router interface (and its
    /// neighbours, routes) binds where its lower's would, so it follows the lower.
    private static func withMacvlans(_ scope: Set<IfIndex>, _ before: Topology, _ after: Topology) -> Set<IfIndex> {
        var all = scope
        for link in scope { for t in [before, after] { all.formUnion(t.macvlans[link] ?? []) } }
        return all
    }

    private mutating func settle(_ keys: Set<HardwareKey>, _ scope: Set<IfIndex>, from before: Topology,
                                 into sink: inout ChangeSink) {
        for key in keys.sorted(by: HardwareKey.stageOrder) {
            sink.change(key, from: value(of: key, in: before), to: value(of: key, in: topology))
        }
        router.syncRoutable(Self.withMacvlans(scope, before, topology), from: before, to: topology, into: &sink)
        router.syncFamilyTraps(from: before, to: topology, into: &sink)
    }

    private func emit(_ keys: [HardwareKey], from before: [DesiredObject?], into sink: inout ChangeSink) {
        for (key, old) in zip(keys, before) { sink.change(key, from: old, to: value(of: key, in: topology)) }
    }

    /// What the stages want for a key, given a topology and their current data. Nexthops,
    /// groups and routes are the router stage's own business and never asked for here.
    private func value(of key: HardwareKey, in t: Topology) -> DesiredObject? {
        switch key {
        case .port(let p):
            return ports.value(of: p, in: t)
        case .bridge(let b):
            return bridges.bridgeValue(b, in: t)
        case .vlanMember(let b, let p, let vid):
            return bridges.memberValue(b, p, vid, in: t)
        case .fdb(let b, let vid, let mac):
            let claims = [bridges.fdbCandidate(b, vid, mac, in: t), tunnels.fdbCandidate(b, vid, mac, in: t),
                          t.macvlanClaim(b, vid, mac)]
            return FDBCandidate.best(claims.compactMap { $0 })?.desired
        case .mdb(let b, let vid, let group):
            return multicast.value(b, vid, group, in: t)
        case .routerInterface(let r):
            return RouterStage.routerInterface(of: IfIndex(rawValue: r.rawValue), in: t)
        case .neighbor(let r, let address):
            return router.neighborValue(r, address, in: t)
        case .vxlanTunnel(let vni):
            return tunnels.tunnelValue(vni, in: t)
        case .vxlanFlood(let vni, let remote):
            return tunnels.floodValue(vni, remote, in: t)
        case .vf(let pf, let index):
            return sriov.value(of: pf, index, in: t)
        case .lag(let id):
            return lags.value(of: id, in: t)
        case .acl(let p):
            return ports.aclValue(of: p, in: t)
        case .nexthop, .nexthopGroup, .route:
            return nil
        }
    }
}

extension Change {
    /// The object before and after the change: one value for an addition or a removal.
    var values: [Value] {
        switch self {
        case .added(let v), .removed(let v): [v]
        case .changed(let old, let new): [old, new]
        }
    }
}

import SwitchDriver
import SwitchModel

/// Bonds over chip ports: which are chip LAGs, and why the others are not.
extension Topology {
    /// Where a bond with a chip-port slave lives.
    enum BondOffload: Equatable, Sendable {
        /// A chip LAG, numbered after its lowest front-panel member (`PortID.lag(n)`): no
        /// allocator, so the number follows from the kernel's state alone, also after a restart.
        case lag(PortID)
        /// The kernel bonds; its chip slaves send everything they receive to the CPU.
        case trapped(String)
    }

    /// A bond's offload; nil for a link that is not a bond, or a bond without a chip port.
    func bondOffload(_ bond: IfIndex) -> BondOffload? {
        guard let link = links[bond], link.kind == .bond else { return nil }
        let slaves = slaves(of: bond)
        guard let lowest = slaves.compactMap(frontPanelPort(of:)).min() else { return nil }
        guard features.contains(.lag) else { return .trapped("driver does not support link aggregation") }
        if let other = slaves.first(where: { frontPanelPort(of: $0) == nil }) {
            return .trapped("slave \(name(of: other)) (\(links[other]?.kind.description ?? "?")) is not a chip port: the kernel bonds")
        }
        let a = link.bond ?? BondAttributes()
        switch a.mode {
        case .activeBackup:
            break
        case .balanceXOR, .lacp:
            guard LAGHash(rawValue: a.hashPolicy.rawValue) != nil else {
                return .trapped("xmit_hash_policy \(a.hashPolicy) is not offloaded (the chip hashes layer2, layer2+3, layer3+4, vlan+srcmac)")
            }
        default:
            return .trapped("bond mode \(a.mode) is not offloaded (the chip takes active-backup, balance-xor, 802.3ad)")
        }
        return .lag(.lag(lowest.rawValue))
    }

    /// A bond's slaves in the bond's order: as the kernel lists them
    /// (`BondAttributes.slaves`, which the mirror reads from `/proc/net/bonding`), then any
    /// it does not list yet in the order they were seen joining (`enslavedOrder`).
    func slaves(of bond: IfIndex) -> [IfIndex] {
        let members = self.members(of: bond)
        let seen = (enslavedOrder[bond] ?? []).filter(members.contains)
        guard let listed = links[bond]?.bond?.slaves else { return seen }
        let rank = Dictionary(listed.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        return seen.enumerated()
            .sorted { (rank[name(of: $0.element)] ?? Int.max, $0.offset) < (rank[name(of: $1.element)] ?? Int.max, $1.offset) }
            .map(\.element)
    }

    /// The LAG the link is, or is a slave of.
    func lag(touching link: IfIndex) -> PortID? {
        if case .lag(let id)? = bondOffload(link) { return id }
        if let m = links[link]?.master, case .lag(let id)? = bondOffload(m) { return id }
        return nil
    }
}

/// Stage 1b: link aggregation — a bond over chip ports as a `HardwareLAG`: its members in
/// slave order, the ones the bond sends through and receives from, its hash.
///
/// The kernel counterparts are the bond (`IFLA_BOND_*`) and its slaves' state
/// (`IFLA_BOND_SLAVE_*`, sent when a slave changes) — mlxsw's LAG and its
/// collection/distribution on `NETDEV_CHANGELOWERSTATE`.
struct LAGStage: Sendable {
    func keys(of link: IfIndex, in topology: Topology, into keys: inout Set<HardwareKey>) {
        guard let id = topology.lag(touching: link) else { return }
        keys.insert(.lag(id))
        keys.insert(.port(id))      // its egress traps include its members'
    }

    /// The kernel's usable-slave rule (`bond_update_slave_arr`): in balance-xor and
    /// 802.3ad, slaves that are up with carrier, that the bond's MII monitor counts up,
    /// that are active (802.3ad: in the active aggregator); in active-backup, the active
    /// slave. Frames are received on active slaves (all with `all_slaves_active`).
    func value(of id: PortID, in topology: Topology) -> DesiredObject? {
        guard let bond = topology.link(of: id), let link = topology.links[bond] else { return nil }
        let a = link.bond ?? BondAttributes()
        let slaves: [(link: Link, port: PortID)] = topology.slaves(of: bond).compactMap { s in
            guard let l = topology.links[s], let p = topology.frontPanelPort(of: s) else { return nil }
            return (l, p)
        }
        let collecting = PortSet(slaves.filter { ($0.link.bondSlave?.active ?? true) || a.allSlavesActive }.map(\.port))
        let distributing: [PortID]
        if a.mode == .activeBackup {
            distributing = slaves.filter { $0.link.index == a.activeSlave }.map(\.port)
        } else {
            distributing = slaves.filter { s in
                let state = s.link.bondSlave ?? BondSlaveAttributes()
                return state.active && state.miiUp && s.link.adminUp && s.link.carrier
                    && (a.mode != .lacp || (a.activeAggregator != nil && state.aggregator == a.activeAggregator))
            }.map(\.port)
        }
        return DesiredObject(.lag(HardwareLAG(id: id, members: slaves.map(\.port), distributing: distributing,
                                              collecting: collecting, hash: LAGHash(rawValue: a.hashPolicy.rawValue) ?? .layer2)))
    }
}

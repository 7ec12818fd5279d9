import SwitchDriver
import SwitchModel

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
    /// that are active; in active-backup, the active slave. Frames are received on active
    /// slaves (all with `all_slaves_active`).
    ///
    /// In 802.3ad the kernel also asks for the active aggregator; it enables (makes active)
    /// only the ports of that aggregator and disables the others' when it changes
    /// (`ad_agg_selection_logic`, `__enable_port`/`__disable_port`), and each of those sends
    /// the slave's `RTM_NEWLINK` (`NETDEV_CHANGELOWERSTATE`). The bond's own
    /// `IFLA_BOND_AD_INFO_AGGREGATOR` is not sent again when the active aggregator changes
    /// while the bond keeps carrier, so it can be stale: "active" is what follows it.
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
            }.map(\.port)
        }
        return DesiredObject(.lag(HardwareLAG(id: id, members: slaves.map(\.port), distributing: distributing,
                                              collecting: collecting, hash: LAGHash(rawValue: a.hashPolicy.rawValue) ?? .layer2)))
    }
}

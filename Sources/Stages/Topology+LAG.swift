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

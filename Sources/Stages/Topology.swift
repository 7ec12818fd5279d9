import SwitchDriver
import SwitchModel

/// What every stage depends on: links by ifindex, which of them are chip ports, bridge
/// membership, per-port VLANs and the interfaces that have routable addresses. All small
/// tables. The pipeline applies link, VLAN and address deltas here before any stage runs,
/// and keeps the previous value for the length of one delta so stages can compare.
///
/// The kernel counterparts are `RTM_NEWLINK` (`IFLA_IFNAME`, `IFLA_MASTER`,
/// `IFLA_INFO_KIND`, `IFLA_BR_*`), bridge VLANs (`IFLA_AF_SPEC`, `RTM_NEWVLAN`) and
/// `RTM_NEWADDR`.
struct Topology: Sendable {
    /// Where a bridge with at least one chip port lives.
    enum BridgeState: Equatable, Sendable {
        /// The chip bridges its traffic.
        case offloaded(BridgeSettings)
        /// The chip cannot: its ports stay standalone and trap to the kernel bridge.
        case trapped(BridgeSettings, reason: String)
    }

    let features: DriverCapabilities.Features
    private let portIDs: [String: PortID]
    private(set) var links: [IfIndex: Link] = [:]
    /// The link that is each chip port (by name).
    private var chipLinks: [PortID: IfIndex] = [:]
    /// Links by their master (`IFLA_MASTER`), whatever the master's kind.
    private var enslaved: [IfIndex: Set<IfIndex>] = [:]
    /// The same, in the order they were enslaved as the mirror reported it — a bond's
    /// slave order, which its transmit hash indexes (`Topology+LAG.swift`). Links that
    /// arrive already enslaved (a dump) join in ifindex order.
    private(set) var enslavedOrder: [IfIndex: [IfIndex]] = [:]
    private var vlans: [IfIndex: [VLANID: PortVLAN]] = [:]
    /// The VLANs flagged PVID, per link (one, normally), so a trunk's PVID costs no scan.
    private var pvids: [IfIndex: Set<VLANID>] = [:]
    /// Addresses other than IPv6 link-local (fe80::/10), per interface.
    private var addresses: [IfIndex: Set<InterfaceAddress.Key>] = [:]
    /// Every IPv6 address of a link, link-local included: a link with none has IPv6
    /// disabled (`net.ipv6.conf.IF.disable_ipv6=1` removes them all) or not up yet.
    private var ipv6Addresses: [IfIndex: Set<InterfaceAddress.Key>] = [:]
    /// The namespace's nftables chains and br_netfilter switches.
    var netfilter = NetfilterState()
    /// `NETCONFA_FORWARDING` per family and device / `all` (netconf), and the policy
    /// rules: what decides whether a packet arriving on a router interface may be routed
    /// (Topology+RoutingPolicy.swift).
    var forwarding: [NetConf.Key: Bool] = [:]
    var rules: Set<RoutingRule> = []
    /// macvlan uppers by their lower (`IFLA_LINK`), `Topology+PortTraps.swift`.
    private(set) var macvlans: [IfIndex: Set<IfIndex>] = [:]
    /// Qdiscs and tc filters, per interface (`Topology+PortTraps.swift`).
    private(set) var qdiscs: [IfIndex: [UInt32: Qdisc]] = [:]
    private(set) var tcFilters: [IfIndex: [TCFilter.Key: TCFilter]] = [:]
    /// Each interface's ingress filters as an ACL plan, kept with `tcFilters` (the stages
    /// ask for a port's ACL several times per change; `Topology+ACL.swift`).
    private(set) var aclPlans: [IfIndex: ACLPlan] = [:]

    init(capabilities: DriverCapabilities) {
        features = capabilities.features
        var ids: [String: PortID] = [:]
        for port in capabilities.ports where ids[port.name] == nil { ids[port.name] = port.id }
        portIDs = ids
    }

    // MARK: Updates

    mutating func apply(_ change: Change<Link>) {
        let index = change.current.index
        let newMaster: IfIndex? = if case .removed = change { nil } else { change.current.master }
        if let old = links.removeValue(forKey: index) {
            if let m = old.master, m != newMaster {
                enslaved[m]?.remove(index)
                if enslaved[m]?.isEmpty == true { enslaved[m] = nil }
                enslavedOrder[m]?.removeAll { $0 == index }
                if enslavedOrder[m]?.isEmpty == true { enslavedOrder[m] = nil }
            }
            if let p = portIDs[old.name], chipLinks[p] == index { chipLinks[p] = nil }
            if old.kind == .macvlan, let lower = old.link {
                macvlans[lower]?.remove(index)
                if macvlans[lower]?.isEmpty == true { macvlans[lower] = nil }
            }
        }
        // A removed link's VLANs and addresses go by their own deltas (the mirror sends them).
        if case .removed = change { return }
        let link = change.current
        links[index] = link
        if let m = link.master, enslaved[m, default: []].insert(index).inserted { enslavedOrder[m, default: []].append(index) }
        if let p = portIDs[link.name] { chipLinks[p] = index }
        if link.kind == .macvlan, let lower = link.link { macvlans[lower, default: []].insert(index) }
    }

    mutating func apply(_ change: Change<BridgeVLAN>) {
        let v = change.current
        pvids[v.port]?.remove(v.vlan.vid)
        if case .removed = change {
            vlans[v.port]?[v.vlan.vid] = nil
            if vlans[v.port]?.isEmpty == true { vlans[v.port] = nil }
        } else {
            vlans[v.port, default: [:]][v.vlan.vid] = v.vlan
            if v.vlan.pvid { pvids[v.port, default: []].insert(v.vlan.vid) }
        }
        if pvids[v.port]?.isEmpty == true { pvids[v.port] = nil }
    }

    mutating func apply(_ change: Change<InterfaceAddress>) {
        let key = change.current.key
        if !key.local.isIPv4 {
            if case .removed = change {
                ipv6Addresses[key.interface]?.remove(key)
                if ipv6Addresses[key.interface]?.isEmpty == true { ipv6Addresses[key.interface] = nil }
            } else {
                ipv6Addresses[key.interface, default: []].insert(key)
            }
        }
        guard Self.isRoutable(key.local) else { return }
        if case .removed = change {
            addresses[key.interface]?.remove(key)
            if addresses[key.interface]?.isEmpty == true { addresses[key.interface] = nil }
        } else {
            addresses[key.interface, default: []].insert(key)
        }
    }

    mutating func apply(_ change: Change<Qdisc>) {
        let q = change.current
        if case .removed = change {
            qdiscs[q.key.interface]?[q.key.handle] = nil
            if qdiscs[q.key.interface]?.isEmpty == true { qdiscs[q.key.interface] = nil }
        } else {
            qdiscs[q.key.interface, default: [:]][q.key.handle] = q
        }
    }

    mutating func apply(_ change: Change<TCFilter>) {
        let f = change.current
        if case .removed = change {
            tcFilters[f.key.interface]?[f.key] = nil
            if tcFilters[f.key.interface]?.isEmpty == true { tcFilters[f.key.interface] = nil }
        } else {
            tcFilters[f.key.interface, default: [:]][f.key] = f
        }
        aclPlans[f.key.interface] = Self.aclPlan(tcFilters[f.key.interface]?.values.filter(\.isIngress) ?? [])
    }

    /// False only for IPv6 link-local addresses (fe80::/10), which never make a router interface.
    static func isRoutable(_ address: IPAddress) -> Bool {
        address.isIPv4 || address.high >> 54 != 0x3FA
    }

    /// The links whose objects a link change can affect: the link itself; when it is
    /// created, deleted, renamed, re-kinded or moves to another master, also the old and
    /// new master and their members (a bridge may gain or lose its only chip port); when
    /// it is a bridge whose state in the chip changes, its members.
    static func scope(of change: Change<Link>, from old: Topology, to new: Topology) -> Set<IfIndex> {
        let index = change.current.index
        var scope: Set<IfIndex> = [index]
        let structural: Bool = switch change {
        case .changed(let o, let n): o.master != n.master || o.name != n.name || o.kind != n.kind
        case .added, .removed: true
        }
        for t in [old, new] {
            if structural, let master = t.links[index]?.master {
                scope.insert(master)
                scope.formUnion(t.enslaved[master] ?? [])
                // A bond that becomes or stops being a LAG (or renumbers) changes its bridge.
                scope.formUnion(masterScope(of: master, from: old, to: new))
            }
            // A bond's slaves follow it: whether it is a LAG decides what they trap.
            if structural || old.bridgeState(index) != new.bridgeState(index) || t.links[index]?.kind == .bond
                || old.links[index]?.bridge?.mstEnabled != new.links[index]?.bridge?.mstEnabled {
                scope.formUnion(t.enslaved[index] ?? [])
            }
        }
        scope.formUnion(masterScope(of: index, from: old, to: new))
        if structural {
            // A vxlan device whose underlay `dev` is this link (or a VRF it joins or leaves):
            // where the kernel routes its underlay may have changed (`vxlanTrapReason`).
            for t in [old, new] {
                for vxlan in t.links.values where vxlan.vxlan?.underlay == index {
                    scope.insert(vxlan.index)
                    scope.formUnion(masterScope(of: vxlan.index, from: old, to: new))
                }
            }
        }
        return scope
    }

    /// The bridge a link belongs to and its members, when a change of that link (its
    /// vxlan settings, its PVID) changed the bridge's state in the chip.
    static func masterScope(of index: IfIndex, from old: Topology, to new: Topology) -> Set<IfIndex> {
        var scope = Set<IfIndex>()
        for master in Set([old.bridge(of: index), new.bridge(of: index)].compactMap { $0 })
        where old.bridgeState(master) != new.bridgeState(master) {
            scope.insert(master)
            for t in [old, new] { scope.formUnion(t.enslaved[master] ?? []) }
        }
        return scope
    }

    // MARK: Queries

    /// The chip port a link is (by name), or the LAG a bond over chip ports is, if any.
    func portID(of link: IfIndex) -> PortID? {
        guard let l = links[link] else { return nil }
        if let p = portIDs[l.name] { return p }
        if l.kind == .bond, case .lag(let id)? = bondOffload(link) { return id }
        return nil
    }

    /// The front-panel chip port a link is (by name), if any: never a LAG.
    func frontPanelPort(of link: IfIndex) -> PortID? { links[link].flatMap { portIDs[$0.name] } }

    /// The link that is a chip port, or the bond that is a LAG.
    func link(of port: PortID) -> IfIndex? {
        guard port.isLAG else { return chipLinks[port] }
        // A LAG is numbered after its lowest member (`bondOffload`).
        guard let member = chipLinks[PortID(port.rawValue - PortID.lagBase)], let bond = links[member]?.master,
              case .lag(let id)? = bondOffload(bond), id == port else { return nil }
        return bond
    }

    func isBridge(_ link: IfIndex) -> Bool { links[link]?.kind == .bridge }

    /// The bridge a link is enslaved to (its master, when that is a bridge).
    func bridge(of link: IfIndex) -> IfIndex? {
        guard let m = links[link]?.master, isBridge(m) else { return nil }
        return m
    }

    /// A bridge's state in the chip; nil when the link is not a bridge, or has neither a chip
    /// port nor a vxlan device that can be a chip tunnel. (A bridge whose only member is a
    /// tunnel is EVPN's L3VNI bridge: what arrives in the VNI is routed by its SVI.)
    func bridgeState(_ bridge: IfIndex) -> BridgeState? {
        guard let link = links[bridge], link.kind == .bridge, let members = enslaved[bridge] else { return nil }
        let a = link.bridge ?? BridgeAttributes()
        guard members.contains(where: { portID(of: $0) != nil }) || members.contains(where: {
            guard let m = links[$0], m.kind == .vxlan else { return false }
            return vxlanTrapReason(m, vlanFiltering: a.vlanFiltering ?? false) == nil
        }) else { return nil }
        // The kernel's own querier sends MLD queries only from an IPv6 address of the
        // bridge (BROPT_HAS_IPV6_ADDR); without a routable one the chip counts on none.
        var querier: RoutedFamilies = a.multicastQuerier ? .ipv4 : []
        if a.multicastQuerier, addresses[bridge]?.contains(where: { !$0.local.isIPv4 }) == true { querier.insert(.ipv6) }
        let settings = BridgeSettings(
            bridge: BridgeID(bridge: bridge), vlanFiltering: a.vlanFiltering ?? false,
            vlanProtocol: a.vlanProtocol ?? 0x8100, ageingTime: a.ageingTime / 100,
            multicastSnooping: (a.multicastSnooping ?? true) && features.contains(.multicastSnooping),
            ownQuerier: querier, queryResponseInterval: UInt32(clamping: a.multicastQueryResponseInterval * 10),
            // Per-VLAN suppression (`neigh_vlan_suppress`) counts as suppression anywhere: the
            // chip then sends the bridge's ARP and ND up whole, and the kernel decides per VLAN.
            neighborSuppression: enslaved[bridge]?.contains {
                links[$0]?.bridgePort.map { $0.neighSuppress || $0.neighVLANSuppress } == true
            } ?? false)
        if settings.vlanProtocol == 0x88A8, !features.contains(.qinq) {
            return .trapped(settings, reason: "driver does not support 802.1ad bridges")
        }
        if settings.vlanFiltering, !features.contains(.vlanFiltering) {
            return .trapped(settings, reason: "driver does not support VLAN filtering")
        }
        if let reason = unreachableMemberReason(bridge, vlanFiltering: settings.vlanFiltering) {
            return .trapped(settings, reason: reason)
        }
        if let reason = backupReason(bridge) {
            return .trapped(settings, reason: reason)
        }
        if let chain = netfilter.bridgedTrap {
            return .trapped(settings, reason: "\(chain) sees bridged traffic")
        }
        return .offloaded(settings)
    }

    /// Why a member's traffic may leave through another port: `backup_port` or
    /// `backup_nhid` — while the member has no carrier the kernel sends to the backup what
    /// it would send to the member (`br_forward`); the chip has no such redirect.
    private func backupReason(_ bridge: IfIndex) -> String? {
        for member in (enslaved[bridge] ?? []).sorted(by: { $0.rawValue < $1.rawValue }) {
            guard let p = links[member]?.bridgePort else { continue }
            if let backup = p.backupPort {
                return "member \(name(of: member)) has backup port \(name(of: backup)) (the kernel redirects to it while \(name(of: member)) has no carrier)"
            }
            if let id = p.backupNexthop {
                return "member \(name(of: member)) has backup nexthop \(id) (the kernel redirects to it while \(name(of: member)) has no carrier)"
            }
        }
        return nil
    }

    /// Why the chip cannot bridge alone: a member it cannot forward to — a veth, a TAP, a
    /// bond, a vxlan device whose tunnel stays on the CPU. The kernel bridge floods to such
    /// a member and learns behind it, but a frame the chip forwards never reaches the
    /// kernel; and a copy sent up would be flooded again by the kernel bridge (a TAP carries
    /// no `offload_fwd_mark`). So the whole bridge stays on the CPU. Nil when every member
    /// is a chip port or an offloadable vxlan device.
    private func unreachableMemberReason(_ bridge: IfIndex, vlanFiltering: Bool) -> String? {
        for member in (enslaved[bridge] ?? []).sorted(by: { $0.rawValue < $1.rawValue }) {
            guard portID(of: member) == nil, let link = links[member] else { continue }
            if link.kind == .vxlan {
                if let reason = vxlanTrapReason(link, vlanFiltering: vlanFiltering) {
                    return "member \(link.name): \(reason)"
                }
                continue
            }
            return "member \(link.name) (\(link.kind)) is not a chip port: the kernel bridges"
        }
        return nil
    }

    /// Why a vxlan device enslaved to a bridge cannot be a chip tunnel; nil when it can.
    /// Independent of the bridge's own state, so the bridge can ask it of its members.
    func vxlanTrapReason(_ device: Link, vlanFiltering: Bool) -> String? {
        guard let a = device.vxlan else { return "vxlan device without VXLAN attributes" }
        if !features.contains(.vxlan) { return "driver does not support VXLAN" }
        if a.vni == nil || a.collectMetadata { return "vxlan device has no VNI (collect_metadata)" }
        guard let local = a.local else { return "vxlan device has no local address" }
        if !local.isIPv4 { return "driver does not support VXLAN over IPv6" }
        if let group = a.group, group.isMulticast { return "multicast underlay group \(group) not offloaded" }
        if let u = a.underlay, let dev = links[u], let v = dev.kind == .vrf ? dev : vrf(of: u) {
            // `dev` in a VRF: the kernel looks the underlay up in the VRF's table
            // (`vxlan_get_route` with that oif); the chip looks it up in main.
            return "underlay device \(dev.name) is in VRF \(v.name) (the chip routes the underlay in main)"
        }
        if VXLANTunnel.DontFragment(rawValue: a.df) == nil { return "vxlan df mode \(a.df) unknown" }
        if a.learning, device.bridgePort?.learning == false {
            // The device would learn each MAC's VTEP while the bridge keeps flooding it
            // locally: a unicast both flooded and sent to one VTEP, which the chip cannot do.
            return "vxlan device learns while its bridge port does not (learning off on \(device.name))"
        }
        if vlanFiltering {
            // The chip maps one VLAN to the VNI and sends the inner frame untagged: the kernel
            // does the same only when that VLAN is the port's only one, PVID and untagged.
            guard let pvid = pvid(of: device.index) else { return "vxlan device has no PVID in the VLAN-filtering bridge" }
            let memberships = vlans(of: device.index)
            if memberships.count > 1 { return "vxlan device carries \(memberships.count) VLANs (the chip maps one VLAN per VNI)" }
            if memberships[pvid]?.untagged != true { return "vxlan device sends VLAN \(pvid) tagged into the tunnel" }
        }
        return nil
    }

    /// Every bridge with a chip port whose state differs between two topologies, with its members.
    static func bridgeScope(from old: Topology, to new: Topology) -> Set<IfIndex> {
        var scope = Set<IfIndex>()
        for (index, link) in new.links where link.kind == .bridge && old.bridgeState(index) != new.bridgeState(index) {
            scope.insert(index)
            for t in [old, new] { scope.formUnion(t.enslaved[index] ?? []) }
        }
        return scope
    }

    /// The settings of a bridge the chip bridges; nil for trapped and non-chip bridges.
    func offloadedBridge(_ bridge: IfIndex) -> BridgeSettings? {
        if case .offloaded(let s)? = bridgeState(bridge) { return s }
        return nil
    }

    /// The links enslaved to `master`.
    func members(of master: IfIndex) -> Set<IfIndex> { enslaved[master] ?? [] }

    /// The VLANs of a bridge port, or of the bridge itself (its "self" VLANs).
    func vlans(of link: IfIndex) -> [VLANID: PortVLAN] { vlans[link] ?? [:] }

    /// The VLAN untagged frames of `link` are classified into.
    func pvid(of link: IfIndex) -> VLANID? { pvids[link]?.min() }

    func hasRoutableAddress(_ link: IfIndex) -> Bool { addresses[link]?.isEmpty == false }

    /// Whether `link` has any IPv6 address (link-local included): the kernel drops IPv6
    /// arriving on a device whose IPv6 is disabled (`ip6_rcv_core`), so it routes none.
    func hasIPv6(_ link: IfIndex) -> Bool { ipv6Addresses[link]?.isEmpty == false }

    /// How messages name a link.
    func name(of link: IfIndex) -> String { links[link]?.name ?? "ifindex \(link)" }

    /// The vxlan links, by ifindex.
    var vxlanLinks: [IfIndex] { links.values.filter { $0.kind == .vxlan }.map(\.index).sorted() }
}

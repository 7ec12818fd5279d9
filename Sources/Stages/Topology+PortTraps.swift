import SwitchDriver
import SwitchModel

/// Kernel state on a chip port that the chip cannot express, as the reasons that keep the
/// port's ingress or egress on the CPU (`PortSettings.ingressTrap` / `.egressTrap`).
///
/// One mechanism for every such state (Docs/Offload.md, "Port traps"): the stage names
/// the state in words, the chip sends the affected direction to the CPU, and the kernel's
/// own path applies it.
extension Topology {
    func portTraps(of link: IfIndex) -> (ingress: String?, egress: String?) {
        guard features.contains(.portTraps) else { return (nil, nil) }
        var ingress: [String] = []
        var egress: [String] = []
        if let bond = links[link]?.master, case .trapped(let reason)? = bondOffload(bond) {
            ingress.append("slave of \(name(of: bond)), which the kernel bonds: \(reason)")
        }
        trafficControlTraps(of: link, ingress: &ingress, egress: &egress)
        // nftables netdev ingress/egress (and inet ingress) chains on the port.
        if let chain = netfilter.deviceTrap(name(of: link), ingress: true) { ingress.append("\(chain) not offloaded") }
        if let chain = netfilter.deviceTrap(name(of: link), ingress: false) { egress.append("\(chain) not offloaded") }
        for mv in macvlanLinks(on: link) where !RouterStage.isRoutable(mv.index, in: self) {
            ingress.append(macvlanReason(mv, on: name(of: link)))
        }
        // A macvlan on the port's bridge hears ARP / ND through the bridge: the chip copies
        // them to the CPU only in a VLAN with a router interface, so without an address on
        // the bridge, and no macvlan routed by the chip there, its ports' ingress stays on the CPU.
        if let b = bridge(of: link), offloadedBridge(b) != nil, !hasRoutableAddress(b),
           !macvlanLinks(on: b).contains(where: { RouterStage.isRoutable($0.index, in: self) }),
           let mv = macvlanLinks(on: b).first {
            ingress.append("macvlan \(mv.name) on \(name(of: b)): ARP and ND for it reach the CPU only through a router interface, and \(name(of: b)) has no address")
        }
        spanningTreeTraps(of: link, ingress: &ingress, egress: &egress)
        if let a = links[link]?.bridgePort, a.hairpin, bridge(of: link) != nil {
            // The chip never sends a frame back out of its ingress port; the kernel does here.
            ingress.append("hairpin mode on \(name(of: link)): the kernel forwards frames back out of their ingress port")
        }
        if let a = links[link]?.bridgePort, a.locked, bridge(of: link) != nil, !features.contains(.lockedPorts) {
            // A chip without per-port source-MAC authorisation: the kernel checks each frame.
            ingress.append("locked bridge port \(name(of: link))\(a.mab ? " with MAB" : ""): the kernel authorises source MACs")
        }
        return (ingress.isEmpty ? nil : ingress.joined(separator: ", "), egress.isEmpty ? nil : egress.joined(separator: ", "))
    }

    /// tc (`RTM_NEWQDISC`, `RTM_NEWTFILTER`): the chip runs no qdisc and no egress classifier.
    /// - a qdisc an operator added at the root (handle ≠ 0: `tbf`, `htb`, `prio`, …)
    ///   shapes, reorders or drops what leaves the port → egress trapped;
    /// - filters on the ingress hook (`ingress` or `clsact`) are the chip's ingress ACL
    ///   (`ingressACL(of:)`); one the chip cannot apply exactly → ingress trapped;
    /// - a filter on the egress hook (`clsact`) → egress trapped. A hook without filters does nothing.
    private func trafficControlTraps(of link: IfIndex, ingress: inout [String], egress: inout [String]) {
        let name = name(of: link)
        if let qdiscs = qdiscs[link] {
            for q in qdiscs.values.sorted(by: { $0.key < $1.key }) where !q.isDefault && q.parent == Qdisc.rootParent {
                egress.append("egress qdisc \(q.kind) on \(name) not offloaded")
            }
            // A shared block's filters are announced on the block, not on each device bound to it.
            for q in qdiscs.values.sorted(by: { $0.key < $1.key }) {
                if q.ingressBlock != 0 { ingress.append("tc shared block \(q.ingressBlock) on \(name)'s ingress not offloaded") }
                if q.egressBlock != 0 { egress.append("tc shared block \(q.egressBlock) on \(name)'s egress not offloaded") }
            }
        }
        guard let filters = tcFilters[link]?.values else { return }
        func kinds(_ wanted: (TCFilter) -> Bool) -> String? {
            let k = Set(filters.filter(wanted).map { $0.kind.isEmpty ? "filter" : $0.kind }).sorted()
            return k.isEmpty ? nil : k.joined(separator: "/")
        }
        if case .trapped(let reason) = ingressACL(of: link) { ingress.append(reason) }
        if let k = kinds({ $0.key.parent == TCFilter.egressHook }) { egress.append("tc egress filter \(k) on \(name) not offloaded") }
    }

    // MARK: macvlan uppers

    /// The macvlan links whose lower is `link`, by ifindex.
    func macvlanLinks(on link: IfIndex) -> [Link] {
        (macvlans[link] ?? []).sorted().compactMap { links[$0] }
    }

    /// Why frames to a macvlan's MAC go to the CPU: what keeps it from a router interface.
    func macvlanReason(_ mv: Link, on lower: String) -> String {
        let why = macvlanBlocker(mv).map { " (\($0))" } ?? ""
        return "macvlan \(mv.name) on \(lower)\(why): frames to \(mv.mac.map(\.description) ?? "its MAC") go to the CPU"
    }

    /// What keeps a macvlan from a router interface of its own in the chip (its MAC
    /// routed like its lower's own), or nil. The kernel hands a frame from the lower to
    /// the macvlan that owns its destination MAC in modes bridge, private and vepa (the
    /// modes differ only in what macvlans send each other, which the CPU sends); in
    /// passthru one macvlan takes every frame, in source mode the source MAC decides.
    func macvlanBlocker(_ mv: Link) -> String? {
        guard features.contains(.routerMACs) else { return "the driver has no router MACs" }
        guard let mode = mv.macvlanMode, [.bridge, .private, .vepa].contains(mode) else {
            return "mode \(mv.macvlanMode?.description ?? "unknown")"
        }
        // Down, it is out of its lower's hash (`macvlan_open` adds it): the kernel no longer
        // hands it frames to its MAC, though its addresses stay.
        guard mv.adminUp else { return "down" }
        guard let lower = mv.link, let l = links[lower] else { return "its lower device is unknown" }
        if mv.mac == l.mac { return "it shares \(l.name)'s MAC" }
        guard hasRoutableAddress(mv.index) else { return "no address" }
        guard RouterStage.routerInterfaceBinding(of: lower, in: self) != nil else {
            return offloadedBridge(lower)?.vlanFiltering == true ? "\(l.name) has no PVID of its own" : "\(l.name) is not routed by the chip"
        }
        // A port's own router interface must be there too: the kernel routes frames to the
        // port's MAC even without an address, and a port without one sends all to the CPU,
        // where a macvlan's alone would drop them as not its own. (A bridge holds its own
        // MAC as a local FDB entry, which the chip sends to the CPU.)
        if portID(of: lower) != nil, !RouterStage.isRoutable(lower, in: self) {
            return "\(l.name) has no router interface"
        }
        return nil
    }

    /// The hardware keys a macvlan decides: on a chip port, the port (its ingress trap);
    /// on an offloaded bridge, the FDB entry sending its MAC to the CPU. Valued for the
    /// macvlan itself and for its lower.
    func macvlanKeys(of link: IfIndex, into keys: inout Set<HardwareKey>) {
        guard let l = links[link] else { return }
        var uppers = macvlanLinks(on: link)
        var lower = link
        if l.kind == .macvlan, let low = l.link {
            uppers = [l]
            lower = low
        }
        guard !uppers.isEmpty else { return }
        if let p = portID(of: lower) { keys.insert(.port(p)) }
        if isBridge(lower) {
            for m in members(of: lower) { if let p = portID(of: m) { keys.insert(.port(p)) } }
        }
        for mv in uppers {
            if let entry = macvlanFDB(mv, on: lower) { keys.insert(HardwareObject.fdb(entry).key) }
            keys.insert(.routerInterface(RouterInterfaceID(rawValue: mv.index.rawValue)))
        }
    }

    /// The FDB entry that sends a macvlan's MAC to the CPU in its lower bridge: the
    /// kernel bridge delivers frames to an upper's MAC to the bridge device (a bridge with
    /// a macvlan is promiscuous), and the chip has no other way to know the MAC is local.
    /// VID 0 without VLAN filtering, else the bridge's own PVID (untagged on br0).
    func macvlanFDB(_ mv: Link, on lower: IfIndex) -> HardwareFDBEntry? {
        guard features.contains(.portTraps), let mac = mv.mac, let settings = offloadedBridge(lower) else { return nil }
        let vid: VLANID
        if settings.vlanFiltering {
            guard let p = pvid(of: lower) else { return nil }
            vid = p
        } else {
            vid = .none
        }
        return HardwareFDBEntry(bridge: settings.bridge, vid: vid, mac: mac, destination: .cpu)
    }

    /// A macvlan's claim on an FDB key (as strong as a local address), with its reason.
    func macvlanClaim(_ bridge: BridgeID, _ vid: VLANID, _ mac: MACAddress) -> FDBCandidate? {
        let lower = IfIndex(rawValue: bridge.rawValue)
        for mv in macvlanLinks(on: lower) where mv.mac == mac {
            // Routed by the chip, its MAC needs no entry: the kernel's bridge holds it only
            // in its address list (no FDB entry), and so does the chip.
            guard let entry = macvlanFDB(mv, on: lower), entry.vid == vid, !RouterStage.isRoutable(mv.index, in: self) else { continue }
            return FDBCandidate(object: entry, priority: 3, sequence: 0, trapReason: macvlanReason(mv, on: name(of: lower)))
        }
        return nil
    }

    // MARK: per-VLAN STP (MST)

    /// Per-VLAN STP states (`BRIDGE_VLANDB_ENTRY_STATE`, `bridge vlan set … state`) and
    /// MST (`mst_enabled`): the chip keeps one STP state per port, so a port of a bridge
    /// with MST, or with any VLAN not forwarding, keeps both directions on the CPU, where
    /// the kernel applies the per-VLAN state.
    private func spanningTreeTraps(of link: IfIndex, ingress: inout [String], egress: inout [String]) {
        guard let bridge = bridge(of: link), offloadedBridge(bridge) != nil else { return }
        let name = name(of: link)
        var reasons: [String] = []
        if links[bridge]?.bridge?.mstEnabled == true {
            reasons.append("\(self.name(of: bridge)) has mst_enabled: per-MSTI port states not offloaded")
        }
        let blocked = vlans(of: link).values.filter { $0.state != nil && $0.state != .forwarding }.sorted()
        if let v = blocked.first {
            let more = blocked.count > 1 ? " (and \(blocked.count - 1) more)" : ""
            reasons.append("per-VLAN STP state \(v.state!) in VLAN \(v.vid) on \(name)\(more) not offloaded")
        }
        ingress += reasons
        egress += reasons
    }
}

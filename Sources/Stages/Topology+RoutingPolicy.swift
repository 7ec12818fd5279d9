import SwitchDriver
import SwitchModel

/// Whether the kernel routes a packet arriving on an interface at all, before any route
/// lookup: the forwarding sysctls (netconf), policy rules (`ip rule`), VRF membership — and
/// whether a netfilter chain on a forwarding hook sees it (Netfilter.swift, SwitchModel).
/// Where the kernel would not route as the chip does — the chip routes the main table,
/// for every ingress — the router interface stops routing that family and its packets
/// are trapped, so the kernel decides.
///
/// The kernel's rules, checked against its source:
/// - IPv4: the ingress device's own flag, `IN_DEV_FORWARD(in_dev)` in
///   `ip_route_input_slow`; writing `net.ipv4.ip_forward` (`conf/all/forwarding`) copies
///   the value to every device (`inet_forward_change`), each announced over netconf.
/// - IPv6: `ip6_forward` reads only `net.ipv6.conf.all.forwarding` (per-device
///   `forwarding` switches host/router behaviour, not forwarding; 6.17's per-device
///   `force_forwarding` is not announced over netconf, and only makes the kernel forward
///   what the chip then traps).
/// - Rules: the default ones (`0 local`, `32766 main`, `32767 default`, the VRF's
///   `1000 l3mdev`) send every packet to the main table after the local one, which is
///   what the chip does; any other rule, or a missing main rule, may not.
/// - A VRF member's packets are looked up in the VRF's table (the l3mdev rule, after the
///   local one; a miss falls through to main): its router interface carries the table,
///   and the chip looks its packets up the same way (`SwitchChip.route`).
extension Topology {
    mutating func apply(_ change: Change<NetConf>) {
        let c = change.current
        if case .removed = change { forwarding[c.key] = nil } else { forwarding[c.key] = c.forwarding ?? forwarding[c.key] }
    }

    mutating func apply(_ change: Change<RoutingRule>) {
        if case .changed(let old, _) = change { rules.remove(old) }
        if case .removed(let r) = change { rules.remove(r) } else { rules.insert(change.current) }
    }

    /// Links that can carry a router interface: chip ports, bridges and macvlans.
    var routerInterfaceCandidates: Set<IfIndex> {
        Set(links.keys.filter { portID(of: $0) != nil || isBridge($0) || links[$0]?.kind == .macvlan })
    }

    /// The VRF (`kind vrf`) `link` is enslaved to.
    func vrf(of link: IfIndex) -> Link? {
        guard let m = links[link]?.master, let master = links[m], master.kind == .vrf else { return nil }
        return master
    }

    /// The kernel's forwarding flag (unknown counts as on: nothing was announced).
    func forwards(_ family: AddressFamily, _ scope: NetConfScope) -> Bool {
        forwarding[NetConf.Key(family: family, scope: scope)] ?? true
    }

    /// Why the kernel may treat `family` differently from the chip for every ingress: a
    /// policy rule, a missing main rule, IPv6 forwarding off.
    func familyBlocker(_ family: AddressFamily) -> String? {
        if let chain = netfilter.routedTrap(ipv4: family == .ipv4) {
            return "\(chain) sees routed \(family == .ipv4 ? "IPv4" : "IPv6")"
        }
        if let r = rules.filter({ $0.family == family && !$0.isDefault }).min() {
            return "\(r) not offloaded"
        }
        // Without any rule of the family nothing is known (not mirrored, or every rule,
        // local included, deleted); otherwise the main rule must be among them.
        let ofFamily = rules.filter { $0.family == family }
        if !ofFamily.isEmpty, !ofFamily.contains(where: \.isMainRule) {
            return "ip\(family == .ipv6 ? " -6" : "") rule 32766: from all lookup main missing"
        }
        if family == .ipv6, !forwards(.ipv6, .all) { return "net.ipv6.conf.all.forwarding=0" }
        return nil
    }

    /// Why packets of `family` arriving on `link` are not routed by the chip, or nil.
    func routingBlocker(_ family: AddressFamily, on link: IfIndex) -> String? {
        if let why = familyBlocker(family) { return why }
        if family == .ipv4, !forwards(.ipv4, .interface(link)) {
            let all = forwards(.ipv4, .all) ? "" : " (net.ipv4.ip_forward=0)"
            return "net.ipv4.conf.\(name(of: link)).forwarding=0" + all
        }
        return nil
    }

    /// The routing table packets arriving on `link` are looked up in: its VRF's
    /// (`IFLA_VRF_TABLE`, the l3mdev rule), or main. Nil for a VRF member whose table is
    /// not known yet.
    func routingTable(of link: IfIndex) -> UInt32? {
        guard let v = vrf(of: link) else { return RouteTable.mainVRF }
        return v.vrfTable
    }

    /// The families a router interface on `link` routes, and why the others are trapped.
    func routedFamilies(of link: IfIndex) -> (RoutedFamilies, String?) {
        if let v = vrf(of: link), v.vrfTable == nil { return ([], "\(name(of: link)) is in VRF \(v.name), whose table is not known") }
        var families = RoutedFamilies.all
        var reasons: [String] = []
        for family in [AddressFamily.ipv4, .ipv6] {
            guard let why = routingBlocker(family, on: link) else { continue }
            families.remove(RoutedFamilies(family))
            if !reasons.contains(why) { reasons.append(why) }
        }
        // No IPv6 address (`disable_ipv6`): the kernel routes no IPv6 from here, and the
        // chip traps it to the kernel, which drops it. Not a trap reason of the router
        // interface: IPv6 is no function of this interface in the kernel either.
        if !hasIPv6(link) { families.remove(.ipv6) }
        return (families, reasons.isEmpty ? nil : reasons.joined(separator: "; "))
    }
}

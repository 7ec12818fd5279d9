import Stages
import SwitchDriver
import SwitchModel
import Testing

private func forwarding(_ family: AddressFamily, _ scope: NetConfScope, _ on: Bool) -> MirrorDelta {
    .netconf(.added(NetConf(key: .init(family: family, scope: scope), forwarding: on)))
}

private func flip(_ family: AddressFamily, _ scope: NetConfScope, to on: Bool) -> MirrorDelta {
    let key = NetConf.Key(family: family, scope: scope)
    return .netconf(.changed(old: NetConf(key: key, forwarding: !on), new: NetConf(key: key, forwarding: on)))
}

private func rule(_ priority: UInt32, _ table: RouteTable, from source: String? = nil, family: AddressFamily = .ipv4) -> RoutingRule {
    RoutingRule(family: family, priority: priority, table: table, source: source.map(prefix), protocolID: 2)
}

@Suite("Router stage: forwarding sysctls, rules, VRFs")
struct RouterPolicyTests {
    @Test("router interfaces stop routing a family, and routes show it, where the kernel would not route as the chip does")
    func policy() throws {
        var g = GoldenSession("router-policy")
        g.step("routed ports with both families, forwarding on, an IPv4 and an IPv6 route", [
            .link(.added(chipPort(1))), .link(.added(chipPort(2))),
            forwarding(.ipv4, .all, true), forwarding(.ipv4, .interface(swp(1)), true),
            forwarding(.ipv4, .interface(swp(2)), true), forwarding(.ipv6, .all, true),
            .address(.added(address(swp(1), "10.0.1.1/24"))), .address(.added(address(swp(2), "10.0.2.1/24"))),
            .address(.added(address(swp(2), "2001:db8:2::1/64"))),
            // Their link-local addresses, as the kernel gives every up interface with IPv6.
            .address(.added(address(swp(1), "fe80::200:ff:fe00:101/64"))),
            .address(.added(address(swp(2), "fe80::200:ff:fe00:102/64"))),
            .route(.added(route("10.9.0.0/16", via: [("10.0.1.2", swp(1), 1)]))),
            .route(.added(route("2001:db8:9::/48", via: [("2001:db8:2::2", swp(2), 1)]))),
        ])
        g.step("net.ipv4.conf.swp2.forwarding=0: swp2 stops routing IPv4; routes stay (swp1 forwards)", [
            flip(.ipv4, .interface(swp(2)), to: false),
        ])
        g.step("net.ipv4.ip_forward=0: every device follows; IPv4 routes trapped", [
            flip(.ipv4, .all, to: false), flip(.ipv4, .interface(swp(1)), to: false),
        ])
        g.step("net.ipv4.ip_forward=1", [
            flip(.ipv4, .all, to: true), flip(.ipv4, .interface(swp(1)), to: true), flip(.ipv4, .interface(swp(2)), to: true),
        ])
        g.step("IPv4 forwarding off on each router interface, all on: the routes say so", [
            flip(.ipv4, .interface(swp(1)), to: false), flip(.ipv4, .interface(swp(2)), to: false),
        ])
        g.step("and on again", [flip(.ipv4, .interface(swp(1)), to: true), flip(.ipv4, .interface(swp(2)), to: true)])
        g.step("net.ipv6.conf.swp2.forwarding=0 changes nothing (ip6_forward reads all only)", [
            forwarding(.ipv6, .interface(swp(2)), false),
        ])
        g.step("net.ipv6.conf.all.forwarding=0: IPv6 trapped everywhere", [flip(.ipv6, .all, to: false)])
        g.step("net.ipv6.conf.all.forwarding=1", [flip(.ipv6, .all, to: true)])
        g.step("the default rules change nothing", [
            .rule(.added(rule(0, .local))), .rule(.added(rule(32766, .main))), .rule(.added(rule(32767, .default))),
            .rule(.added(rule(0, .local, family: .ipv6))), .rule(.added(rule(32766, .main, family: .ipv6))),
        ])
        g.step("ip rule add from 10.1.0.0/16 lookup 100 pref 100: IPv4 trapped", [
            .rule(.added(rule(100, 100, from: "10.1.0.0/16"))),
        ])
        g.step("the rule goes", [.rule(.removed(rule(100, 100, from: "10.1.0.0/16")))])
        g.step("ip -6 rule del pref 32766: no IPv6 packet reaches the main table", [
            .rule(.removed(rule(32766, .main, family: .ipv6))),
        ])
        g.step("ip -6 rule add pref 32766 lookup main", [.rule(.added(rule(32766, .main, family: .ipv6)))])
        var vrfRed = otherLink(IfIndex(40), "vrf-red", kind: .vrf)
        g.step("vrf-red, table not known yet, swp2 enslaved: its router interface routes nothing", [
            .link(.added(vrfRed)),
            .link(.changed(old: chipPort(2), new: chipPort(2, master: IfIndex(40)))),
        ])
        g.step("swp2 leaves vrf-red", [.link(.changed(old: chipPort(2, master: IfIndex(40)), new: chipPort(2)))])
        vrfRed.vrfTable = 10
        g.step("vrf-red with table 10, swp2 enslaved: its router interface routes in table 10", [
            .link(.changed(old: otherLink(IfIndex(40), "vrf-red", kind: .vrf), new: vrfRed)),
            .link(.changed(old: chipPort(2), new: chipPort(2, master: IfIndex(40)))),
        ])
        g.step("a route in table 10", [.route(.added(Route(key: .init(table: RouteTable(rawValue: 10), destination: IPPrefix("10.9.0.0/24")!),
                                                            nexthops: [RouteNexthop(gateway: ip("10.0.2.2"), interface: swp(2))])))])
        g.step("swp2 leaves vrf-red again", [.link(.changed(old: chipPort(2, master: IfIndex(40)), new: chipPort(2)))])
        g.step("net.ipv6.conf.swp2.disable_ipv6=1 (the kernel removes its IPv6 addresses): swp2 routes IPv4 only", [
            .address(.removed(address(swp(2), "2001:db8:2::1/64"))),
            .address(.removed(address(swp(2), "fe80::200:ff:fe00:102/64"))),
        ])
        g.step("disable_ipv6=0: the link-local address returns, swp2 routes IPv6 again", [
            .address(.added(address(swp(2), "fe80::200:ff:fe00:102/64"))),
        ])
        try g.verify()
    }
}

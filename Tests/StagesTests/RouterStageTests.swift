import Stages
import SwitchDriver
import SwitchModel
import Testing

/// lo, eth0 (management, 192.168.0.10/24), swp1 10.0.1.1/24, swp2 10.0.2.1/24: two routed ports.
private let routedPorts: [MirrorDelta] = [
    .link(.added(otherLink(lo, "lo", kind: .loopback))),
    .link(.added(otherLink(eth0, "eth0", kind: .other("")))),
    .link(.added(chipPort(1))), .link(.added(chipPort(2))),
    .address(.added(address(eth0, "192.168.0.10/24"))),
    .address(.added(address(swp(1), "10.0.1.1/24"))),
    .address(.added(address(swp(2), "10.0.2.1/24"))),
]

@Suite("Router stage")
struct RouterStageTests {
    @Test("router interfaces on a port and on bridges")
    func routerInterfaces() throws {
        var g = GoldenSession("router-interfaces")
        g.step("swp1 standalone with only a link-local address; eth0 with an address", [
            .link(.added(otherLink(eth0, "eth0", kind: .other("")))), .link(.added(chipPort(1))),
            .address(.added(address(swp(1), "fe80::200:ff:fe00:101/64"))),
            .address(.added(address(eth0, "192.168.0.10/24"))),
        ])
        g.step("swp1 gets 10.0.1.1/24 and 2001:db8:1::1/64", [
            .address(.added(address(swp(1), "10.0.1.1/24"))), .address(.added(address(swp(1), "2001:db8:1::1/64"))),
        ])
        g.step("br0 (no VLAN filtering) with swp2 and 10.0.2.1/24", [
            .link(.added(bridgeLink())), .link(.added(chipPort(2, master: br0))),
            .address(.added(address(br0, "10.0.2.1/24"))),
        ])
        g.step("br1 (vlan_filtering 1) with swp3, 10.0.3.1/24, no VLAN of its own yet", [
            .link(.added(bridgeLink(br1, name: "br1", filtering: true))), .link(.added(chipPort(3, master: br1))),
            .vlan(.added(vlan(swp(3), 30, pvid: true, untagged: true))),
            .address(.added(address(br1, "10.0.3.1/24"))),
        ])
        g.step("br1 self VLAN 30 pvid", [.vlan(.added(vlan(br1, 30, pvid: true, untagged: true)))])
        g.step("swp1 MTU 9000", [.link(.changed(old: chipPort(1), new: chipPort(1, mtu: 9000)))])
        g.step("swp1 loses 10.0.1.1: 2001:db8:1::1 keeps the router interface", [
            .address(.removed(address(swp(1), "10.0.1.1/24"))),
        ])
        g.step("2001:db8:1::1 removed", [.address(.removed(address(swp(1), "2001:db8:1::1/64")))])
        g.step("swp2 leaves br0: br0 has no chip port, its router interface goes", [
            .link(.changed(old: chipPort(2, master: br0), new: chipPort(2))),
        ])
        try g.verify()
    }

    @Test("connected, gateway, ECMP, too-wide ECMP, blackhole, unreachable and skipped routes")
    func routes() throws {
        var g = GoldenSession("router-routes")
        g.step("routed ports", routedPorts)
        g.step("connected and gateway routes", [
            .route(.added(route("10.0.1.0/24", dev: swp(1)))),
            .route(.added(route("10.9.0.0/16", via: [("10.0.1.2", swp(1), 1)]))),
        ])
        g.step("ECMP 10.10.0.0/16 via 10.0.1.2 (weight 1) and 10.0.2.2 (weight 3); 10.11.0.0/16 over the same paths", [
            .route(.added(route("10.10.0.0/16", via: [("10.0.2.2", swp(2), 3), ("10.0.1.2", swp(1), 1)]))),
            .route(.added(route("10.11.0.0/16", via: [("10.0.1.2", swp(1), 1), ("10.0.2.2", swp(2), 3)]))),
        ])
        g.step("ECMP over 5 paths on a chip whose groups hold 4", [
            .route(.added(route("10.12.0.0/16", via: (2...6).map { ("10.0.1.\($0)", swp(1), 1) }))),
        ])
        g.step("blackhole, unreachable, prohibit, throw", [
            .route(.added(route("10.66.0.0/16", type: .blackhole))),
            .route(.added(route("10.67.0.0/16", type: .unreachable))),
            .route(.added(route("10.68.0.0/16", type: .prohibit))),
            .route(.added(route("10.69.0.0/16", type: .throw))),
        ])
        g.step("skipped: fe80::/64, ff00::/8, a cloned route, a multicast route", [
            .route(.added(route("fe80::/64", metric: 256, dev: swp(1)))),
            .route(.added(route("ff00::/8", table: .local, metric: 256, type: .multicast, dev: swp(1)))),
            .route(.added(route("10.0.1.7/32", via: [("10.0.1.2", swp(1), 1)], flags: RouterFlags.cloned))),
            .route(.added(route("239.0.0.0/8", type: .multicast, dev: swp(1)))),
        ])
        g.step("routes through the management port trap: the chip has no router interface there", [
            .route(.added(route("192.168.0.0/24", dev: eth0))),
            .route(.added(route("0.0.0.0/0", via: [("192.168.0.1", eth0, 1)]))),
        ])
        g.step("IPv6 gateway route in VRF table 10", [
            .route(.added(route("2001:db8:9::/48", table: 10, via: [("fe80::2", swp(2), 1)]))),
        ])
        g.step("10.10.0.0/16 goes: the group stays for 10.11.0.0/16", [
            .route(.removed(route("10.10.0.0/16", via: [("10.0.2.2", swp(2), 3), ("10.0.1.2", swp(1), 1)]))),
        ])
        g.step("10.11.0.0/16 goes: the group and 10.0.2.2 go; 10.0.1.2 stays for 10.9.0.0/16", [
            .route(.removed(route("10.11.0.0/16", via: [("10.0.1.2", swp(1), 1), ("10.0.2.2", swp(2), 3)]))),
        ])
        try g.verify()
    }

    @Test("local-table routes trap to the CPU from VRF 254 and win over main-table routes")
    func localTable() throws {
        var g = GoldenSession("router-local-table")
        g.step("routed ports", routedPorts)
        g.step("a main-table host route 10.0.1.1/32 via swp2, then the local table", [
            .route(.added(route("10.0.1.1/32", via: [("10.0.2.2", swp(2), 1)]))),
            .route(.added(route("10.0.1.1/32", table: .local, type: .local, dev: swp(1)))),
            .route(.added(route("10.0.1.255/32", table: .local, type: .broadcast, dev: swp(1)))),
            .route(.added(route("127.0.0.0/8", table: .local, type: .local, dev: lo))),
            .route(.added(route("2001:db8:1::1/128", table: .local, type: .local, dev: swp(1)))),
            .route(.added(route("2001:db8:1::/128", table: .local, type: .anycast, dev: swp(1)))),
        ])
        g.step("a local address in VRF table 10 stays in table 10", [
            .route(.added(route("10.10.1.1/32", table: 10, type: .local, dev: swp(2)))),
        ])
        g.step("the local address goes: the main-table route takes the slot", [
            .route(.removed(route("10.0.1.1/32", table: .local, type: .local, dev: swp(1)))),
        ])
        try g.verify()
    }

    @Test("nexthop objects, a group, routes via nhid, then a member change")
    func nexthopObjects() throws {
        var g = GoldenSession("router-nexthop-objects")
        g.step("routed ports", routedPorts)
        g.step("nexthops 1 (10.0.1.2 swp1), 2 (10.0.2.2 swp2), group 10 = 1x1 + 2x2, blackhole 3, device-only 4", [
            .nexthop(.added(nexthopObject(1, via: "10.0.1.2", dev: swp(1)))),
            .nexthop(.added(nexthopObject(2, via: "10.0.2.2", dev: swp(2)))),
            .nexthop(.added(nexthopObject(10, group: [(1, 1), (2, 2)]))),
            .nexthop(.added(nexthopObject(3, blackhole: true))),
            .nexthop(.added(nexthopObject(4, dev: swp(1)))),
        ])
        g.step("routes via nhid 10, 1, 3, 4", [
            .route(.added(route("10.20.0.0/16", nexthopID: 10))),
            .route(.added(route("10.21.0.0/16", nexthopID: 1))),
            .route(.added(route("10.22.0.0/16", nexthopID: 3))),
            .route(.added(route("10.23.0.0/16", nexthopID: 4))),
        ])
        g.step("member 2 moves to gateway 10.0.2.3: groups 2 and 10 follow", [
            .nexthop(.changed(old: nexthopObject(2, via: "10.0.2.2", dev: swp(2)), new: nexthopObject(2, via: "10.0.2.3", dev: swp(2)))),
        ])
        g.step("nexthop 3 replaced by a gateway: the route through it stops dropping", [
            .nexthop(.changed(old: nexthopObject(3, blackhole: true), new: nexthopObject(3, via: "10.0.2.9", dev: swp(2)))),
        ])
        g.step("group 11 = 1 + 99, with 99 not known yet; then 99 arrives", [
            .nexthop(.added(nexthopObject(11, group: [(1, 1), (99, 1)]))),
        ])
        g.step("nexthop 99 (10.0.1.99 swp1) arrives", [
            .nexthop(.added(nexthopObject(99, via: "10.0.1.99", dev: swp(1)))),
        ])
        try g.verify()
    }

    @Test("neighbours resolve and unresolve")
    func neighbours() throws {
        var g = GoldenSession("router-neighbours")
        g.step("routed ports; swp3 without address", routedPorts + [.link(.added(chipPort(3)))])
        g.step("10.0.1.2 reachable on swp1; 192.168.0.1 on eth0; a multicast lladdr; 10.0.3.2 on swp3", [
            .neighbor(.added(neighbor(swp(1), "10.0.1.2", lladdr: "02:00:00:00:aa:02"))),
            .neighbor(.added(neighbor(eth0, "192.168.0.1", lladdr: "02:00:00:00:aa:01"))),
            .neighbor(.added(neighbor(swp(1), "224.0.0.22", lladdr: "01:00:5e:00:00:16", state: .noarp))),
            .neighbor(.added(neighbor(swp(3), "10.0.3.2", lladdr: "02:00:00:00:aa:03"))),
        ])
        g.step("10.0.1.2 goes stale: still usable, nothing changes", [
            .neighbor(.changed(old: neighbor(swp(1), "10.0.1.2", lladdr: "02:00:00:00:aa:02"),
                               new: neighbor(swp(1), "10.0.1.2", lladdr: "02:00:00:00:aa:02", state: .stale))),
        ])
        g.step("10.0.1.2 moves to a new MAC", [
            .neighbor(.changed(old: neighbor(swp(1), "10.0.1.2", lladdr: "02:00:00:00:aa:02", state: .stale),
                               new: neighbor(swp(1), "10.0.1.2", lladdr: "02:00:00:00:aa:12"))),
        ])
        g.step("10.0.1.2 fails (no lladdr)", [
            .neighbor(.changed(old: neighbor(swp(1), "10.0.1.2", lladdr: "02:00:00:00:aa:12"),
                               new: neighbor(swp(1), "10.0.1.2", lladdr: nil, state: .failed))),
        ])
        g.step("swp3 gets an address: its router interface and neighbour appear", [
            .address(.added(address(swp(3), "10.0.3.1/24"))),
        ])
        g.step("10.0.3.2 removed", [.neighbor(.removed(neighbor(swp(3), "10.0.3.2", lladdr: "02:00:00:00:aa:03")))])
        try g.verify()
    }

    @Test("routes to one prefix with different metrics: removing the winner promotes the next")
    func metrics() throws {
        var g = GoldenSession("router-metrics")
        g.step("routed ports", routedPorts)
        g.step("10.30.0.0/16 metric 20 via 10.0.1.2", [.route(.added(route("10.30.0.0/16", metric: 20, via: [("10.0.1.2", swp(1), 1)])))])
        g.step("10.30.0.0/16 metric 10 via 10.0.2.2 wins", [.route(.added(route("10.30.0.0/16", metric: 10, via: [("10.0.2.2", swp(2), 1)])))])
        g.step("10.30.0.0/16 tos 4 metric 5 does not", [.route(.added(route("10.30.0.0/16", metric: 5, tos: 4, via: [("10.0.1.3", swp(1), 1)])))])
        g.step("metric 10 removed: metric 20 is promoted", [.route(.removed(route("10.30.0.0/16", metric: 10, via: [("10.0.2.2", swp(2), 1)])))])
        g.step("metric 20 removed: only the tos 4 route is left", [.route(.removed(route("10.30.0.0/16", metric: 20, via: [("10.0.1.2", swp(1), 1)])))])
        g.step("tos 4 removed", [.route(.removed(route("10.30.0.0/16", metric: 5, tos: 4, via: [("10.0.1.3", swp(1), 1)])))])
        try g.verify()
    }

    @Test("a nexthop shared by two routes is removed only after both go")
    func sharedNexthop() throws {
        var g = GoldenSession("router-shared-nexthop")
        g.step("routed ports", routedPorts)
        g.step("two routes via 10.0.1.2", [
            .route(.added(route("10.40.0.0/16", via: [("10.0.1.2", swp(1), 1)]))),
            .route(.added(route("10.41.0.0/16", via: [("10.0.1.2", swp(1), 1)]))),
        ])
        g.step("the first goes", [.route(.removed(route("10.40.0.0/16", via: [("10.0.1.2", swp(1), 1)])))])
        g.step("the second goes", [.route(.removed(route("10.41.0.0/16", via: [("10.0.1.2", swp(1), 1)])))])
        try g.verify()
    }

    @Test("routes that arrive before their router interface trap until it exists")
    func lateRouterInterface() throws {
        var g = GoldenSession("router-late-interface")
        g.step("swp1 and swp2 without addresses; nexthop 1 via swp1; routes via swp1 (gateway, nhid, ECMP) and connected", [
            .link(.added(chipPort(1))), .link(.added(chipPort(2))),
            .address(.added(address(swp(2), "10.0.2.1/24"))),
            .nexthop(.added(nexthopObject(1, via: "10.0.1.2", dev: swp(1)))),
            .route(.added(route("10.50.0.0/16", via: [("10.0.1.2", swp(1), 1)]))),
            .route(.added(route("10.51.0.0/16", nexthopID: 1))),
            .route(.added(route("10.52.0.0/16", via: [("10.0.1.2", swp(1), 1), ("10.0.2.2", swp(2), 1)]))),
            .route(.added(route("10.0.1.0/24", dev: swp(1)))),
        ])
        g.step("swp1 gets 10.0.1.1/24", [.address(.added(address(swp(1), "10.0.1.1/24")))])
        g.step("swp1 loses it again", [.address(.removed(address(swp(1), "10.0.1.1/24")))])
        try g.verify()
    }

    @Test("a driver without IPv6 routing or ECMP")
    func missingFeatures() throws {
        let features = DriverCapabilities.Features.all.subtracting([.ipv6Routing, .ecmp])
        var g = GoldenSession("router-missing-features", capabilities: testCapabilities(features: features))
        g.step("routed ports", routedPorts)
        g.step("an IPv6 route, an ECMP route, an ECMP nexthop group", [
            .route(.added(route("2001:db8:9::/48", via: [("fe80::2", swp(2), 1)]))),
            .route(.added(route("10.10.0.0/16", via: [("10.0.1.2", swp(1), 1), ("10.0.2.2", swp(2), 1)]))),
            .nexthop(.added(nexthopObject(1, via: "10.0.1.2", dev: swp(1)))),
            .nexthop(.added(nexthopObject(2, via: "10.0.2.2", dev: swp(2)))),
            .nexthop(.added(nexthopObject(10, group: [(1, 1), (2, 1)]))),
            .route(.added(route("10.20.0.0/16", nexthopID: 10))),
        ])
        try g.verify()
    }
}

enum RouterFlags {
    /// `RTM_F_CLONED`.
    static let cloned: UInt32 = 0x200
}

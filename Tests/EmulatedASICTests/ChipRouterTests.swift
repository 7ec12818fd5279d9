import EmulatedASIC
import SwitchDriver
import SwitchModel
import Testing

/// Routing: longest match, ECMP, TTL, traps for what the CPU must handle.
@Suite("Emulated chip: routing")
struct ChipRouterTests {
    /// Routed ports 1…4, each with a router interface (rif id = port number) and a
    /// neighbour 10.0.<p>.2 behind it.
    static func router(profile: TableProfile = .small) throws -> EmbeddedSwitch {
        let sw = EmbeddedSwitch(profile: profile)
        var objects: [HardwareObject] = []
        for p in UInt16(1)...4 {
            let rif = RouterInterfaceID(rawValue: UInt32(p))
            objects += [
                .port(PortSettings(port: PortID(p))),
                .routerInterface(RouterInterface(id: rif, binding: .port(PortID(p)), mac: Host.routerMAC)),
                .route(HardwareRoute(prefix: IPPrefix("10.0.\(p).0/24")!, action: .attached(rif))),
                .route(HardwareRoute(prefix: IPPrefix("10.0.\(p).1/32")!, action: .trap(.localAddress))),
                .neighbor(HardwareNeighbor(rif: rif, address: Host.ip("10.0.\(p).2"), mac: Host.mac(UInt8(p)))),
                .nexthop(HardwareNexthop(rif: rif, gateway: Host.ip("10.0.\(p).2"))),
            ]
        }
        try sw.program(objects)
        return sw
    }

    static func nh(_ p: UInt32) -> HardwareNexthop { HardwareNexthop(rif: RouterInterfaceID(rawValue: p), gateway: Host.ip("10.0.\(p).2")) }

    static func toRouter(dst: String, srcPort: UInt16 = 1000, ttl: UInt8 = 64) -> [UInt8] {
        Frame.udp(from: 1, to: Host.routerMAC, src: "10.0.1.2", dst: dst, srcPort: srcPort, ttl: ttl)
    }

    @Test("longest prefix wins; the frame is rewritten: MACs, TTL − 1, checksum")
    func longestMatch() throws {
        let sw = try Self.router()
        try sw.program([.route(HardwareRoute(prefix: IPPrefix("172.16.0.0/16")!, action: .nexthop(Self.nh(2)))),
                        .route(HardwareRoute(prefix: IPPrefix("172.16.5.0/24")!, action: .nexthop(Self.nh(3))))])
        sw.inject(Self.toRouter(dst: "172.16.5.9"), on: 1)
        let out = try #require(sw.readOutbound(on: 3))
        let pf = Frame.parse(out)      // parsing verifies the IPv4 header checksum
        #expect(pf.dstMAC == Host.mac(3) && pf.srcMAC == Host.routerMAC && pf.ttl == 63)
        sw.inject(Self.toRouter(dst: "172.16.9.9"), on: 1)
        #expect(sw.drainCounts() == [2: 1])
        // Identical to the original but for MACs, TTL and checksum.
        let original = Self.toRouter(dst: "172.16.5.9")
        #expect(Array(out[22..<24]) == [63, original[23]] && Array(out[26...]) == Array(original[26...]))
        try sw.finish()
    }

    @Test("a second router interface on a routed port (a macvlan's): frames to its MAC routed with it and sent out of it with its MAC; removing the port's own hands the binding over; a MAC taken twice is refused")
    func routerMACs() throws {
        let sw = try Self.router()
        let vmac = MACAddress(rawValue: 0x0000_5E00_0101)
        let mv = RouterInterfaceID(rawValue: 70)
        try sw.program([.routerInterface(RouterInterface(id: mv, binding: .port(PortID(1)), mac: vmac)),
                        .route(HardwareRoute(prefix: IPPrefix("172.16.0.0/16")!, action: .nexthop(Self.nh(2)))),
                        .neighbor(HardwareNeighbor(rif: mv, address: Host.ip("10.9.0.2"), mac: Host.mac(9))),
                        .route(HardwareRoute(prefix: IPPrefix("10.9.0.0/24")!, action: .attached(mv)))])
        let toMacvlan = Frame.udp(from: 1, to: vmac, src: "10.0.1.2", dst: "172.16.5.9")
        sw.inject(toMacvlan, on: 1)
        #expect(sw.drainCounts() == [2: 1], "a frame to the macvlan's MAC was not routed")
        // Out of the macvlan's interface: its MAC as the source.
        sw.inject(Frame.udp(from: 2, to: Host.routerMAC, src: "10.0.2.2", dst: "10.9.0.2"), on: 2)
        let out = try #require(sw.readOutbound(on: 1))
        #expect(Frame.parse(out).srcMAC == vmac && Frame.parse(out).dstMAC == Host.mac(9))
        // Unicast to any other MAC on the routed port is still not ours.
        sw.inject(Frame.udp(from: 1, to: Host.mac(200), src: "10.0.1.2", dst: "172.16.5.9"), on: 1)
        #expect(sw.drainCounts().isEmpty && sw.drainTrapReasons().isEmpty)
        // The same MAC twice on one binding is refused.
        let clash = RouterInterface(id: RouterInterfaceID(rawValue: 71), binding: .port(PortID(1)), mac: vmac)
        #expect(throws: EmbeddedSwitch.ProgrammingFailed.self) { try sw.program([.routerInterface(clash)]) }
        // The port's own interface goes (with what uses it): the macvlan's keeps routing.
        try sw.apply([.remove(.route(vrf: 254, IPPrefix("10.0.1.1/32")!)), .remove(.route(vrf: 254, IPPrefix("10.0.1.0/24")!)),
                      .remove(.nexthop(Self.nh(1))), .remove(.routerInterface(RouterInterfaceID(rawValue: 1)))])
        sw.inject(toMacvlan, on: 1)
        #expect(sw.drainCounts() == [2: 1], "the macvlan's interface stopped routing when the port's own went")
        sw.inject(Self.toRouter(dst: "172.16.5.9"), on: 1)
        #expect(sw.drainCounts().isEmpty, "frames to the removed interface's MAC were still routed")
    }

    @Test("a packet routed back out of its ingress interface goes up whole: the kernel may send an ICMP redirect")
    func redirect() throws {
        let sw = try Self.router()
        try sw.program([.route(HardwareRoute(prefix: IPPrefix("172.16.0.0/16")!, action: .nexthop(Self.nh(1))))])
        sw.inject(Self.toRouter(dst: "172.16.5.9"), on: 1)
        #expect(sw.drainOutbound().isEmpty)
        #expect(sw.drainTrapReasons() == [.redirect])
        sw.inject(Self.toRouter(dst: "10.0.1.2"), on: 1)           // attached, same interface
        #expect(sw.drainTrapReasons() == [.redirect])
        sw.inject(Self.toRouter(dst: "10.0.2.2"), on: 1)
        #expect(sw.drainCounts() == [2: 1])
        try sw.finish()
    }

    @Test("ECMP spreads flows over the members by the 5-tuple")
    func ecmp() throws {
        let sw = try Self.router()
        try sw.program([.nexthopGroup(HardwareNexthopGroup(id: 7, members: [2, 3, 4].map { .init(nexthop: Self.nh($0)) })),
                        .route(HardwareRoute(prefix: IPPrefix("0.0.0.0/0")!, action: .group(7)))])
        for port in UInt16(0)..<900 { sw.inject(Self.toRouter(dst: "198.51.100.1", srcPort: 1000 + port), on: 1) }
        let counts = sw.drainCounts()
        #expect(counts.values.reduce(0, +) == 900)
        for p: PortID in [2, 3, 4] { #expect((counts[p] ?? 0) > 200, "port \(p) got \(counts[p] ?? 0) of 900") }
        // One flow always takes one path.
        for _ in 0..<10 { sw.inject(Self.toRouter(dst: "198.51.100.1", srcPort: 4242), on: 1) }
        #expect(sw.drainCounts().count == 1)
    }

    @Test("TTL 1 is trapped for the kernel to answer; local addresses are trapped")
    func ttlAndLocal() throws {
        let sw = try Self.router()
        sw.inject(Self.toRouter(dst: "10.0.2.2", ttl: 1), on: 1)
        sw.inject(Self.toRouter(dst: "10.0.1.1", ttl: 1), on: 1)
        #expect(sw.drainTrapReasons() == [.ttlExpired, .localAddress])
        try sw.finish()
    }

    @Test("an unresolved destination or next hop is trapped; resolving it offloads the traffic")
    func unresolved() throws {
        let sw = try Self.router()
        sw.inject(Self.toRouter(dst: "10.0.2.77"), on: 1)
        #expect(sw.drainTrapReasons() == [.unresolvedNexthop])
        try sw.program([.neighbor(HardwareNeighbor(rif: 2, address: Host.ip("10.0.2.77"), mac: Host.mac(77)))])
        sw.inject(Self.toRouter(dst: "10.0.2.77"), on: 1)
        #expect(Frame.parse(try #require(sw.readOutbound(on: 2))).dstMAC == Host.mac(77))
        try sw.apply([.remove(.neighbor(3, Host.ip("10.0.3.2")))])
        try sw.program([.route(HardwareRoute(prefix: IPPrefix("192.0.2.0/24")!, action: .nexthop(Self.nh(3))))])
        sw.inject(Self.toRouter(dst: "192.0.2.1"), on: 1)
        #expect(sw.drainTrapReasons() == [.unresolvedNexthop])
        try sw.finish()
    }

    @Test("no route, a blackhole and a trap route")
    func missesAndSpecials() throws {
        let sw = try Self.router()
        try sw.program([.route(HardwareRoute(prefix: IPPrefix("203.0.113.0/24")!, action: .drop)),
                        .route(HardwareRoute(prefix: IPPrefix("198.18.0.0/15")!, action: .trap(.routeTrap)))])
        sw.inject(Self.toRouter(dst: "8.8.8.8"), on: 1)
        sw.inject(Self.toRouter(dst: "198.18.1.1"), on: 1)
        #expect(sw.drainTrapReasons() == [.noRoute, .routeTrap])
        sw.inject(Self.toRouter(dst: "203.0.113.5"), on: 1)
        #expect(sw.asic.counters().drops[.blackhole] == 1)
        try sw.finish()
    }

    @Test("IPv6 is routed with the hop limit decremented")
    func ipv6() throws {
        let sw = try Self.router()
        let nh = HardwareNexthop(rif: 2, gateway: Host.ip("2001:db8:2::2"))
        try sw.program([.neighbor(HardwareNeighbor(rif: 2, address: nh.gateway, mac: Host.mac(22))), .nexthop(nh),
                        .route(HardwareRoute(prefix: IPPrefix("2001:db8:99::/48")!, action: .nexthop(nh)))])
        let frame = FrameBuilder.udp(srcMAC: Host.mac(1), dstMAC: Host.routerMAC, src: Host.ip("2001:db8:1::2"),
                                     dst: Host.ip("2001:db8:99::1"), srcPort: 1, dstPort: 2, ttl: 9)
        sw.inject(frame, on: 1)
        let pf = Frame.parse(try #require(sw.readOutbound(on: 2)))
        #expect(pf.ttl == 8 && pf.dstMAC == Host.mac(22))
        try sw.finish()
    }

    @Test("a router interface that does not route a family traps that family's packets it would route (routing_disabled), on a port and on an SVI; the other family is still routed")
    func routedFamilies() throws {
        let sw = try Self.router()
        let nh = HardwareNexthop(rif: 2, gateway: Host.ip("2001:db8:2::2"))
        try sw.program([
            .routerInterface(RouterInterface(id: 1, binding: .port(1), mac: Host.routerMAC, routedFamilies: .ipv6)),
            .neighbor(HardwareNeighbor(rif: 2, address: nh.gateway, mac: Host.mac(22))), .nexthop(nh),
            .route(HardwareRoute(prefix: IPPrefix("2001:db8:99::/48")!, action: .nexthop(nh))),
        ])
        sw.inject(Self.toRouter(dst: "10.0.2.2"), on: 1)
        #expect(sw.drainCounts().isEmpty)
        #expect(sw.drainTrapReasons() == [.routingDisabled])
        sw.inject(FrameBuilder.udp(srcMAC: Host.mac(1), dstMAC: Host.routerMAC, src: Host.ip("2001:db8:1::2"),
                                   dst: Host.ip("2001:db8:99::1"), srcPort: 1, dstPort: 2, ttl: 9), on: 1)
        #expect(sw.drainCounts() == [2: 1])
        // Back to both families: routed again.
        try sw.program([.routerInterface(RouterInterface(id: 1, binding: .port(1), mac: Host.routerMAC))])
        sw.inject(Self.toRouter(dst: "10.0.2.2"), on: 1)
        #expect(sw.drainCounts() == [2: 1])

        let svi = try EmbeddedSwitch.bridged(ports: [1, 2], vlanFiltering: false)
        try svi.program([
            .routerInterface(RouterInterface(id: 100, binding: .bridge(10, .none), mac: Host.routerMAC, routedFamilies: [])),
            .route(HardwareRoute(prefix: IPPrefix("10.0.20.0/24")!, action: .attached(100))),
            .neighbor(HardwareNeighbor(rif: 100, address: Host.ip("10.0.20.5"), mac: Host.mac(5))),
            .fdb(HardwareFDBEntry(bridge: 10, vid: .none, mac: Host.mac(5), destination: .port(2))),
        ])
        svi.inject(Frame.udp(from: 1, to: Host.routerMAC, src: "10.0.10.2", dst: "10.0.20.5"), on: 1)
        #expect(svi.drainCounts().isEmpty)
        #expect(svi.drainTrapReasons() == [.routingDisabled])
        try sw.finish()
        try svi.finish()
    }

    @Test("a router interface on a bridge VLAN routes between VLANs")
    func sviRouting() throws {
        let sw = try EmbeddedSwitch.bridged(ports: [1, 2], vlanFiltering: true)
        try sw.program([
            .vlanMember(VLANMember(bridge: 10, port: 1, vid: 10, untagged: true, pvid: true)),
            .vlanMember(VLANMember(bridge: 10, port: 2, vid: 20)),
            .routerInterface(RouterInterface(id: 110, binding: .bridge(10, 10), mac: Host.routerMAC)),
            .routerInterface(RouterInterface(id: 120, binding: .bridge(10, 20), mac: Host.routerMAC)),
            .route(HardwareRoute(prefix: IPPrefix("10.0.20.0/24")!, action: .attached(120))),
            .neighbor(HardwareNeighbor(rif: 120, address: Host.ip("10.0.20.5"), mac: Host.mac(5))),
            .fdb(HardwareFDBEntry(bridge: 10, vid: 20, mac: Host.mac(5), destination: .port(2))),
        ])
        sw.inject(Frame.udp(from: 1, to: Host.routerMAC, src: "10.0.10.2", dst: "10.0.20.5"), on: 1)
        let pf = Frame.parse(try #require(sw.readOutbound(on: 2)))
        #expect(pf.outerVID == 20 && pf.dstMAC == Host.mac(5) && pf.ttl == 63)
        _ = sw.readEvents()
        try sw.finish()
    }
}

@Suite("Emulated chip: traps and faults")
struct ChipTrapTests {
    @Test("a routed port sends ARP and neighbour discovery to the CPU as such")
    func routedPortControl() throws {
        let sw = try ChipRouterTests.router()
        sw.inject(FrameBuilder.arpRequest(srcMAC: Host.mac(1), senderIP: Host.ip("10.0.1.2"), targetIP: Host.ip("10.0.1.1")), on: 1)
        sw.inject(FrameBuilder.neighborSolicitation(srcMAC: Host.mac(1), src: Host.ip("2001:db8:1::2"), target: Host.ip("2001:db8:1::1")), on: 1)
        #expect(sw.drainTrapReasons() == [.arp, .neighborDiscovery])
        try sw.finish()
    }

    @Test("each trap has a policer on the virtual clock: a burst passes, the excess is dropped and counted")
    func policer() throws {
        var profile = TableProfile.small
        profile.trapRate = 10
        profile.trapBurst = 5
        let sw = EmbeddedSwitch(profile: profile)
        let bpdu = FrameBuilder.stpConfigurationBPDU(srcMAC: Host.mac(1), rootID: 1, bridgeID: 2)
        try sw.program([.bridge(BridgeSettings(bridge: 10)), .port(PortSettings(port: 1, bridge: 10))])
        for _ in 0..<20 { sw.inject(bpdu, on: 1) }
        #expect(sw.drainTrapReasons().count == 5)
        #expect(sw.asic.counters().traps[.stp]?.policerDrops == 15)
        sw.advanceTime(bySeconds: 0.5)
        for _ in 0..<20 { sw.inject(bpdu, on: 1) }
        #expect(sw.drainTrapReasons().count == 5)
        _ = sw.readEvents()
        try sw.finish()
    }

    @Test("programming latency advances the virtual clock per operation")
    func latency() {
        let asic = EmulatedASIC()
        asic.inject(.latency(nanosecondsPerOperation: 1_000_000))
        let before = asic.chip.now
        _ = asic.apply((1...10).map { .set(.port(PortSettings(port: PortID($0 % 8 + 1)))) })
        #expect(asic.chip.now - before == 10_000_000)
    }
}

import EmulatedASIC
import SwitchDriver
import SwitchModel
import Testing

/// Issue 11 §2.1: the chip never both forwards a frame and sends it up. The kernel floods
/// what it receives on a TAP (which carries no offload_fwd_mark), so a frame the CPU
/// needs is trapped whole — and the kernel forwards it — or forwarded by the chip alone.
@Suite("Emulated chip: a trapped frame is never also forwarded")
struct ChipTrapWholeTests {
    /// Bridge 10 over ports 1–3 with a router interface (an address on the bridge).
    static func bridgeWithAddress() throws -> EmbeddedSwitch {
        let sw = try EmbeddedSwitch.bridged(ports: [1, 2, 3], querier: true)
        try sw.program([.routerInterface(RouterInterface(id: 10, binding: .bridge(10, .none), mac: Host.routerMAC))])
        return sw
    }

    @Test("broadcast ARP, broadcast and link-local multicast in a VLAN with a router interface go up whole, unflooded")
    func routerBound() throws {
        let sw = try Self.bridgeWithAddress()
        let arp = FrameBuilder.arpRequest(srcMAC: Host.mac(1), senderIP: Host.ip("10.0.0.1"), targetIP: Host.ip("10.0.0.2"))
        let ns = FrameBuilder.neighborSolicitation(srcMAC: Host.mac(1), src: Host.ip("2001:db8::1"), target: Host.ip("2001:db8::2"))
        let mdns = FrameBuilder.udp(srcMAC: Host.mac(1), dstMAC: FrameBuilder.multicastMAC(for: Host.ip("224.0.0.251")),
                                    src: Host.ip("10.0.0.1"), dst: Host.ip("224.0.0.251"), srcPort: 5353, dstPort: 5353)
        for _ in 0..<10 { sw.inject(arp, on: 1) }
        sw.inject(ns, on: 1)
        sw.inject(Frame.broadcast(from: 1), on: 1)
        sw.inject(mdns, on: 1)
        #expect(sw.drainOutbound().isEmpty, "the chip flooded what it also sent to the CPU")
        #expect(sw.drainTrapReasons() == Array(repeating: .arp, count: 10) + [.neighborDiscovery, .localAddress, .localAddress])
        // A registered group is the chip's alone: copied to its members, not sent up
        // (an unregistered one goes up whole: ChipBridgeTests, issue 11 §2.2).
        try sw.program([.mdb(HardwareMDBEntry(bridge: 10, group: .ip(Host.ip("239.1.1.1")), ports: [2, 3]))])
        sw.inject(FrameBuilder.udp(srcMAC: Host.mac(1), dstMAC: FrameBuilder.multicastMAC(for: Host.ip("239.1.1.1")),
                                   src: Host.ip("10.0.0.1"), dst: Host.ip("239.1.1.1"), srcPort: 1, dstPort: 2), on: 1)
        #expect(sw.drainCounts() == [2: 1, 3: 1])
        #expect(sw.readTrapped() == nil)
        _ = sw.readEvents()
        try sw.finish()
    }

    @Test("without a router interface, broadcast ARP is the chip's alone: flooded, not sent up")
    func noRouterInterface() throws {
        let sw = try EmbeddedSwitch.bridged(ports: [1, 2, 3])
        sw.inject(FrameBuilder.arpRequest(srcMAC: Host.mac(1), senderIP: Host.ip("10.0.0.1"), targetIP: Host.ip("10.0.0.2")), on: 1)
        #expect(sw.drainCounts() == [2: 1, 3: 1])
        #expect(sw.readTrapped() == nil)
        _ = sw.readEvents()
        try sw.finish()
    }

    @Test("a flood that cannot reach a remote VTEP (unresolved underlay) goes up whole; resolved, the chip floods it all")
    func unresolvedUnderlay() throws {
        let sw = try EmbeddedSwitch.bridged(ports: [1, 2])
        let nh = HardwareNexthop(rif: 4, gateway: Host.ip("10.0.4.2"))
        try sw.program([
            .port(PortSettings(port: 4)),
            .routerInterface(RouterInterface(id: 4, binding: .port(4), mac: Host.routerMAC)),
            .nexthop(nh),
            .route(HardwareRoute(prefix: IPPrefix("192.0.2.0/24")!, action: .nexthop(nh))),
            .vxlanTunnel(VXLANTunnel(vni: 100, bridge: 10, local: Host.ip("10.0.4.1"))),
            .vxlanFlood(VXLANFloodEntry(vni: 100, remote: Host.ip("192.0.2.2"))),
        ])
        for _ in 0..<10 { sw.inject(Frame.broadcast(from: 1), on: 1) }
        #expect(sw.drainOutbound().isEmpty, "flooded locally while the tunnel copy was trapped")
        #expect(sw.drainTrapReasons() == Array(repeating: .unresolvedNexthop, count: 10))
        try sw.program([.neighbor(HardwareNeighbor(rif: 4, address: nh.gateway, mac: Host.mac(44)))])
        sw.inject(Frame.broadcast(from: 1), on: 1)
        #expect(sw.drainCounts() == [2: 1, 4: 1])
        #expect(sw.readTrapped() == nil)
        _ = sw.readEvents()
        try sw.finish()
    }
}

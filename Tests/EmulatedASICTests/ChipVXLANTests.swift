import EmulatedASIC
import SwitchDriver
import SwitchModel
import Testing

/// VXLAN: encapsulation byte for byte, decapsulation with learning, head-end replication.
@Suite("Emulated chip: VXLAN")
struct ChipVXLANTests {
    static let local = Host.ip("10.0.4.1")
    static let remote = Host.ip("192.0.2.2")
    static let underlayMAC = Host.mac(44)

    /// Bridge 10 over ports 1 and 2 with VNI 100; port 4 is the routed underlay.
    static func vtep() throws -> EmbeddedSwitch {
        let sw = try EmbeddedSwitch.bridged(ports: [1, 2])
        let nh = HardwareNexthop(rif: 4, gateway: Host.ip("10.0.4.2"))
        try sw.program([
            .port(PortSettings(port: 4)),
            .routerInterface(RouterInterface(id: 4, binding: .port(4), mac: Host.routerMAC)),
            .neighbor(HardwareNeighbor(rif: 4, address: nh.gateway, mac: underlayMAC)),
            .nexthop(nh),
            .route(HardwareRoute(prefix: IPPrefix("192.0.2.0/24")!, action: .nexthop(nh))),
            .route(HardwareRoute(prefix: IPPrefix("10.0.4.1/32")!, action: .trap(.localAddress))),
            .vxlanTunnel(VXLANTunnel(vni: 100, bridge: 10, local: local)),
        ])
        return sw
    }

    @Test("a frame to a remote MAC leaves encapsulated, byte for byte as the kernel's vxlan would")
    func encapsulation() throws {
        let sw = try Self.vtep()
        try sw.program([.fdb(HardwareFDBEntry(bridge: 10, mac: Host.mac(50), destination: .tunnel(vni: 100, remote: Self.remote)))])
        let inner = Frame.udp(from: 1, to: 50)
        sw.inject(inner, on: 1)
        let out = try #require(sw.readOutbound(on: 4))
        let pf = Frame.parse(out)
        #expect(pf.isVXLAN && pf.vxlanVNI == 100 && pf.dstPort == 4789)
        let expected = FrameBuilder.vxlan(outerSrcMAC: Host.routerMAC, outerDstMAC: Self.underlayMAC, outerSrc: Self.local,
                                          outerDst: Self.remote, srcPort: pf.srcPort, vni: 100, inner: inner, ttl: 64)
        #expect(out == expected)
        #expect(out.count == inner.count + 50)
        #expect(pf.srcPort >= 49152)
        _ = sw.readEvents()
        try sw.finish()
    }

    @Test("a VXLAN packet to the local VTEP is decapsulated and its source learned on the remote")
    func decapsulation() throws {
        let sw = try Self.vtep()
        sw.inject(Frame.udp(from: 1, to: 99), on: 1)      // learn host 1 on port 1
        _ = sw.drainOutbound()
        _ = sw.readEvents()
        let inner = Frame.udp(from: 50, to: 1)
        let packet = FrameBuilder.vxlan(outerSrcMAC: Self.underlayMAC, outerDstMAC: Host.routerMAC, outerSrc: Self.remote,
                                        outerDst: Self.local, srcPort: 50000, vni: 100, inner: inner)
        sw.inject(packet, on: 4)
        #expect(sw.drainOutbound() == [1: [inner]])
        #expect(sw.readEvents() == [.macLearned(bridge: 10, vid: .none, mac: Host.mac(50), destination: .tunnel(vni: 100, remote: Self.remote))])
        // The reply now goes into the tunnel without flooding.
        sw.inject(Frame.udp(from: 1, to: 50), on: 1)
        #expect(sw.drainCounts() == [4: 1])
        // An unknown VNI to our VTEP is dropped and counted.
        sw.inject(FrameBuilder.vxlan(outerSrcMAC: Self.underlayMAC, outerDstMAC: Host.routerMAC, outerSrc: Self.remote,
                                     outerDst: Self.local, srcPort: 50000, vni: 999, inner: inner), on: 4)
        #expect(sw.asic.counters().drops[.unknownVNI] == 1)
        // A MAC learned behind a tunnel ages out like any other, named by its remote VTEP.
        sw.advanceTime(bySeconds: 301)
        #expect(sw.readEvents().contains(.macAged(bridge: 10, vid: .none, mac: Host.mac(50), destination: .tunnel(vni: 100, remote: Self.remote))))
        try sw.finish()
    }

    @Test("a decapsulated frame for the CPU goes up encapsulated, on the underlay port, for the kernel's vxlan device")
    func trapFromTunnel() throws {
        let sw = try Self.vtep()
        try sw.program([.fdb(HardwareFDBEntry(bridge: 10, mac: Host.mac(77), destination: .cpu))])
        let packet = FrameBuilder.vxlan(outerSrcMAC: Self.underlayMAC, outerDstMAC: Host.routerMAC, outerSrc: Self.remote,
                                        outerDst: Self.local, srcPort: 50000, vni: 100, inner: Frame.udp(from: 50, to: 77))
        sw.inject(packet, on: 4)
        let trapped = try #require(sw.readTrapped())
        #expect(trapped.port == 4 && trapped.frame == packet, "trapped \(trapped.reason) on \(trapped.port)")
        #expect(sw.drainOutbound().isEmpty)
        _ = sw.readEvents()
        try sw.finish()
    }

    @Test("broadcast is replicated to every remote VTEP of the flood list (head-end replication)")
    func headEndReplication() throws {
        let sw = try Self.vtep()
        try sw.program([.vxlanFlood(VXLANFloodEntry(vni: 100, remote: Self.remote)),
                        .vxlanFlood(VXLANFloodEntry(vni: 100, remote: Host.ip("192.0.2.3")))])
        sw.inject(Frame.broadcast(from: 1), on: 1)
        #expect(sw.readOutbound(on: 2) != nil)
        let copies = [try #require(sw.readOutbound(on: 4)), try #require(sw.readOutbound(on: 4))]
        let remotes = Set(copies.map { Frame.parse($0).ipDestination! })
        #expect(remotes == [Self.remote, Host.ip("192.0.2.3")])
        // What came out of a tunnel is not sent back into tunnels (split horizon).
        let fromRemote = FrameBuilder.vxlan(outerSrcMAC: Self.underlayMAC, outerDstMAC: Host.routerMAC, outerSrc: Self.remote,
                                            outerDst: Self.local, srcPort: 50000, vni: 100, inner: Frame.broadcast(from: 60))
        sw.inject(fromRemote, on: 4)
        #expect(sw.drainCounts() == [1: 1, 2: 1])
        _ = sw.readEvents()
        try sw.finish()
    }
}

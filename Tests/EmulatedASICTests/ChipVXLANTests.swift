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
        #expect(VXLANTunnel.defaultSourcePorts.contains(pf.srcPort), "source port \(pf.srcPort) outside ip_local_port_range")
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

    /// An IPv4 UDP frame from host 1 to host 50 with the given DSCP/ECN, TTL and DF.
    static func inner(tos: UInt8, ttl: UInt8 = 64, dontFragment: Bool = false) -> [UInt8] {
        let src = Host.ip("10.0.0.1"), dst = Host.ip("10.0.0.50")
        let udp = FrameBuilder.udpDatagram(src: src, dst: dst, srcPort: 1000, dstPort: 2000, payload: Array(repeating: 7, count: 32))
        return FrameBuilder.ethernet(dst: Host.mac(50), src: Host.mac(1), etherType: 0x0800,
                                     payload: FrameBuilder.ipv4Packet(src: src, dst: dst, protocol: 17, payload: udp, ttl: ttl,
                                                                      tos: tos, dontFragment: dontFragment))
    }

    /// Encapsulates `inner` through a tunnel with the given settings and returns the outer
    /// IPv4 header's TOS, TTL, DF and the UDP source port.
    static func encapsulated(_ inner: [UInt8], _ tunnel: VXLANTunnel) throws -> (tos: UInt8, ttl: UInt8, df: Bool, sport: UInt16) {
        let sw = try vtep()
        try sw.program([.vxlanTunnel(tunnel),
                        .fdb(HardwareFDBEntry(bridge: 10, mac: Host.mac(50), destination: .tunnel(vni: 100, remote: remote)))])
        sw.inject(inner, on: 1)
        let out = try #require(sw.readOutbound(on: 4))
        #expect(Array(out[50...]) == inner, "the inner frame is carried unchanged")
        _ = sw.readEvents()
        try sw.finish()
        return (out[15], out[22], out[20] & 0x40 != 0, UInt16(out[34]) << 8 | UInt16(out[35]))
    }

    @Test("outer TOS, TTL, DF and source port follow the tunnel's settings and the inner packet, as vxlan_xmit_one sets them")
    func outerHeaderFields() throws {
        let plain = VXLANTunnel(vni: 100, bridge: 10, local: Self.local)
        // The inner ECN is copied out whatever the tunnel's TOS; CE goes out as ECT(0) (RFC 6040 §4.1).
        #expect(try Self.encapsulated(Self.inner(tos: 0xB8 | 2), plain).tos == 0x02)
        #expect(try Self.encapsulated(Self.inner(tos: 0xB8 | 1), plain).tos == 0x01)
        #expect(try Self.encapsulated(Self.inner(tos: 0xB8 | 3), plain).tos == 0x02)
        #expect(try Self.encapsulated(Self.inner(tos: 0xB8), plain).tos == 0x00)
        var fixed = plain
        fixed.tos = 0x28
        #expect(try Self.encapsulated(Self.inner(tos: 0xB8 | 1), fixed).tos == 0x29)
        var inherit = plain
        inherit.tos = 1
        #expect(try Self.encapsulated(Self.inner(tos: 0xB8 | 3), inherit).tos == 0xBA)
        // TTL: 64 by default, the tunnel's, or the inner packet's with ttl inherit.
        #expect(try Self.encapsulated(Self.inner(tos: 0, ttl: 9), plain).ttl == 64)
        var ttl = plain
        ttl.ttl = 17
        #expect(try Self.encapsulated(Self.inner(tos: 0, ttl: 9), ttl).ttl == 17)
        ttl.ttlInherit = true
        #expect(try Self.encapsulated(Self.inner(tos: 0, ttl: 9), ttl).ttl == 9)
        // DF: unset by default; set; inherited from the inner IPv4 packet.
        #expect(try Self.encapsulated(Self.inner(tos: 0, dontFragment: true), plain).df == false)
        var df = plain
        df.dontFragment = .set
        #expect(try Self.encapsulated(Self.inner(tos: 0), df).df == true)
        df.dontFragment = .inherit
        #expect(try Self.encapsulated(Self.inner(tos: 0, dontFragment: true), df).df == true)
        #expect(try Self.encapsulated(Self.inner(tos: 0), df).df == false)
        // noudpcsum: RFC 7348's zero checksum.
        let sw = try Self.vtep()
        try sw.program([.vxlanTunnel(VXLANTunnel(vni: 100, bridge: 10, local: Self.local, udpChecksum: false)),
                        .fdb(HardwareFDBEntry(bridge: 10, mac: Host.mac(50), destination: .tunnel(vni: 100, remote: Self.remote)))])
        sw.inject(Self.inner(tos: 0), on: 1)
        let out = try #require(sw.readOutbound(on: 4))
        #expect(out[40] == 0 && out[41] == 0, "noudpcsum sends a zero checksum")
        _ = sw.readEvents()
        try sw.finish()
        // The source port lies in the tunnel's range (srcport 1000 1010).
        var ports = plain
        ports.sourcePorts = 1000..<1010
        #expect((1000..<1010).contains(try Self.encapsulated(Self.inner(tos: 0), ports).sport))
    }

    @Test("decapsulation applies the outer ECN: CE marks ECT inner packets, drops not-ECT ones; ECT(1) over ECT(0)")
    func ecnDecapsulation() throws {
        func decapsulate(outer: UInt8, inner: [UInt8]) throws -> (frame: [UInt8]?, sw: EmbeddedSwitch) {
            let sw = try Self.vtep()
            sw.inject(Frame.udp(from: 50, to: 99), on: 1)       // host 50 lives on port 1
            _ = sw.drainOutbound()
            _ = sw.readEvents()
            let udp = FrameBuilder.udpDatagram(src: Self.remote, dst: Self.local, srcPort: 50000, dstPort: 4789,
                                               payload: FrameBuilder.vxlanHeader(vni: 100) + inner)
            let packet = FrameBuilder.ethernet(dst: Host.routerMAC, src: Self.underlayMAC, etherType: 0x0800,
                                               payload: FrameBuilder.ipv4Packet(src: Self.remote, dst: Self.local, protocol: 17,
                                                                                payload: udp, tos: outer), pad: false)
            sw.inject(packet, on: 4)
            let out = sw.readOutbound(on: 1)
            _ = sw.readEvents()
            return (out, sw)
        }
        // Outer CE over ECT(0): delivered as CE, with a correct header checksum.
        let marked = try #require(try decapsulate(outer: 3, inner: Self.inner(tos: 0x20 | 2)).frame)
        #expect(marked == Self.inner(tos: 0x20 | 3))
        // Outer CE over not-ECT: dropped and counted, as the kernel's vxlan counts rx_errors.
        let (dropped, sw) = try decapsulate(outer: 3, inner: Self.inner(tos: 0x20))
        #expect(dropped == nil)
        #expect(sw.asic.counters().drops[.vxlanECN] == 1)
        // Outer ECT(1) over ECT(0): ECT(1); outer ECT over not-ECT: unchanged (the kernel only logs).
        #expect(try decapsulate(outer: 1, inner: Self.inner(tos: 2)).frame == Self.inner(tos: 1))
        #expect(try decapsulate(outer: 2, inner: Self.inner(tos: 0)).frame == Self.inner(tos: 0))
        #expect(try decapsulate(outer: 0, inner: Self.inner(tos: 2)).frame == Self.inner(tos: 2))
    }

    @Test("learning from the tunnel follows the kernel's two switches: per remote, behind the default destinations, or none")
    func learningModes() throws {
        let second = Host.ip("192.0.2.3")
        func run(_ learning: VXLANTunnel.Learning) throws -> (events: [DriverEvent], replyCopies: [IPAddress], local: Int) {
            let sw = try Self.vtep()
            try sw.program([.vxlanTunnel(VXLANTunnel(vni: 100, bridge: 10, local: Self.local, learning: learning)),
                            .vxlanFlood(VXLANFloodEntry(vni: 100, remote: Self.remote)),
                            .vxlanFlood(VXLANFloodEntry(vni: 100, remote: second))])
            sw.inject(Frame.udp(from: 1, to: 99), on: 1)
            _ = sw.drainOutbound()
            _ = sw.readEvents()
            sw.inject(FrameBuilder.vxlan(outerSrcMAC: Self.underlayMAC, outerDstMAC: Host.routerMAC, outerSrc: Self.remote,
                                         outerDst: Self.local, srcPort: 50000, vni: 100, inner: Frame.udp(from: 50, to: 1)), on: 4)
            _ = sw.drainOutbound()
            let events = sw.readEvents()
            // The reply to host 50: where does it go?
            sw.inject(Frame.udp(from: 1, to: 50), on: 1)
            let out = sw.drainOutbound()
            let copies = (out[4] ?? []).map { Frame.parse($0).ipDestination! }.sorted { $0.description < $1.description }
            try sw.finish()
            return (events, copies, out[2]?.count ?? 0)
        }
        // Both learn: the MAC behind its VTEP, the reply unicast to it alone.
        let both = try run(.remote)
        #expect(both.events == [.macLearned(bridge: 10, vid: .none, mac: Host.mac(50), destination: .tunnel(vni: 100, remote: Self.remote))])
        #expect(both.replyCopies == [Self.remote] && both.local == 0)
        // Only the bridge learns: behind the vxlan port, which sends to every default remote; no local flood.
        let bridgeOnly = try run(.defaultRemotes)
        #expect(bridgeOnly.events == [.macLearned(bridge: 10, vid: .none, mac: Host.mac(50), destination: .tunnel(vni: 100, remote: .anyIPv4))])
        #expect(bridgeOnly.replyCopies == [Self.remote, second] && bridgeOnly.local == 0)
        // Neither: nothing learned, the reply floods locally and to both remotes.
        let none = try run(.off)
        #expect(none.events.isEmpty)
        #expect(none.replyCopies == [Self.remote, second] && none.local == 1)
    }
}

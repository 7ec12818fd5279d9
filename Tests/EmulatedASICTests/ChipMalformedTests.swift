import EmulatedASIC
import SwitchDriver
import SwitchModel
import Testing

/// Malformed frames are dropped and counted by reason; the chip never crashes.
@Suite("Emulated chip: malformed input")
struct ChipMalformedTests {
    @Test("truncated and lying headers are dropped with their reason")
    func reasons() throws {
        let sw = try ChipRouterTests.router()
        var bad = ChipRouterTests.toRouter(dst: "10.0.2.2")
        bad[14] = 0x44                                         // IHL 4
        sw.inject(bad, on: 1)
        sw.inject(Array(ChipRouterTests.toRouter(dst: "10.0.2.2").prefix(20)), on: 1)
        sw.inject([0x01, 0x02, 0x03], on: 1)
        let drops = sw.asic.counters().drops
        #expect(drops[.badIPv4HeaderLength] == 1)
        #expect(drops[.truncatedIPv4] == 1)
        #expect(drops[.truncatedEthernet] == 1)
        #expect(sw.asic.counters().ports[1]?.rxDrops == 3)
        try sw.finish()
    }

    @Test("a VXLAN packet too short for its inner frame is not decapsulated: it goes up as a datagram to the VTEP's address (the kernel's vxlan_rcv drops it)")
    func shortVXLAN() throws {
        let sw = try ChipVXLANTests.vtep()
        let packet = FrameBuilder.vxlan(outerSrcMAC: ChipVXLANTests.underlayMAC, outerDstMAC: Host.routerMAC,
                                        outerSrc: ChipVXLANTests.remote, outerDst: ChipVXLANTests.local, srcPort: 1,
                                        vni: 100, inner: [1, 2, 3])
        sw.inject(packet, on: 4)
        #expect(sw.drainOutbound().isEmpty)
        #expect(sw.readTrapped()?.reason == .localAddress)
        try sw.finish()
    }

    @Test("fuzz: 50,000 mutated frames through bridge, router and tunnel never crash")
    func fuzz() throws {
        let sw = try ChipVXLANTests.vtep()
        try sw.program([.vxlanFlood(VXLANFloodEntry(vni: 100, remote: ChipVXLANTests.remote))])
        let seeds: [[UInt8]] = [
            Frame.udp(from: 1, to: 2), Frame.broadcast(from: 1, vlan: [.ctag(5)]),
            ChipRouterTests.toRouter(dst: "192.0.2.9"),
            FrameBuilder.vxlan(outerSrcMAC: ChipVXLANTests.underlayMAC, outerDstMAC: Host.routerMAC, outerSrc: ChipVXLANTests.remote,
                               outerDst: ChipVXLANTests.local, srcPort: 1, vni: 100, inner: Frame.udp(from: 50, to: 1)),
            FrameBuilder.igmpv2Report(srcMAC: Host.mac(2), src: Host.ip("10.0.0.2"), group: Host.ip("239.1.1.1")),
        ]
        var rng = SplitMix64(seed: 0x4057)
        var sent = 0
        for i in 0..<50_000 {
            var f = seeds[i % seeds.count]
            switch rng.next() % 3 {
            case 0: f = Array(f.prefix(Int(rng.next() % UInt64(f.count + 1))))
            case 1: for _ in 0..<(1 + rng.next() % 4) { f[Int(rng.next() % UInt64(f.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            default: f += (0..<(rng.next() % 16)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
            sw.inject(f, on: PortID(UInt16([1, 2, 4][i % 3])))
            sent += 1
            if i % 1000 == 0 {
                _ = sw.drainOutbound()
                _ = sw.drainTrapReasons()
                _ = sw.readEvents()
            }
        }
        let c = sw.asic.counters()
        #expect(c.ports.values.reduce(0) { $0 + $1.rxPackets } == UInt64(sent))
        #expect(!c.drops.isEmpty)
    }
}

import EmulatedASIC
import Offload
import Stages
import SwitchDriver
import SwitchModel
import Testing

/// Kernel deltas → stages → engine → emulated chip → frames, all in memory: the path
/// hoistd runs, without a kernel.
@Suite("Mirror deltas to forwarding")
struct PipelineIntegrationTests {
    static let br0: IfIndex = 100
    static func swp(_ n: UInt32) -> IfIndex { IfIndex(10 + n) }
    static let swp4MAC = MACAddress("02:00:00:00:01:04")!
    static let gatewayMAC = MACAddress("02:00:00:00:99:02")!

    static func port(_ n: UInt32, bridged: Bool) -> Link {
        Link(index: swp(n), name: "swp\(n)", kind: .tap, adminUp: true, operState: .up,
             mac: n == 4 ? swp4MAC : MACAddress(rawValue: 0x0200_0000_0100 + UInt64(n)),
             master: bridged ? br0 : nil, bridgePort: bridged ? BridgePortAttributes() : nil)
    }

    static var neighbor: Neighbor {
        Neighbor(key: .init(interface: swp(4), address: IPAddress("10.0.4.2")!), lladdr: gatewayMAC, state: .reachable)
    }

    /// A bridge br0 over swp1–3, a routed swp4 with 10.0.4.1/24, a static route behind a
    /// gateway there and the gateway's neighbour entry, and a routed swp5 (10.0.5.1/24) the
    /// routed probes come in on (routed back out of their ingress they would trap: redirect).
    static var boot: [MirrorDelta] {
        let bridge = Link(index: br0, name: "br0", kind: .bridge, adminUp: true, operState: .up,
                          mac: MACAddress("02:00:00:00:0f:00")!, bridge: BridgeAttributes())
        let routes = [
            Route(key: .init(table: .local, destination: IPPrefix("10.0.4.1/32")!), type: .local, protocolID: .kernel,
                  scope: .host, nexthops: [RouteNexthop(interface: swp(4))]),
            Route(key: .init(destination: IPPrefix("10.0.4.0/24")!), protocolID: .kernel, scope: .link,
                  nexthops: [RouteNexthop(interface: swp(4))]),
            Route(key: .init(destination: IPPrefix("198.51.100.0/24")!), protocolID: .static,
                  nexthops: [RouteNexthop(gateway: IPAddress("10.0.4.2")!, interface: swp(4))]),
        ]
        return [.link(.added(bridge))] + (1...3).map { .link(.added(port($0, bridged: true))) }
            + [.link(.added(port(4, bridged: false))),
               .address(.added(InterfaceAddress(key: .init(interface: swp(4), local: IPAddress("10.0.4.1")!, prefixLength: 24)))),
               .link(.added(port(5, bridged: false))),
               .address(.added(InterfaceAddress(key: .init(interface: swp(5), local: IPAddress("10.0.5.1")!, prefixLength: 24))))]
            + routes.map { .route(.added($0)) } + [.neighbor(.added(neighbor))]
    }

    @Test("a bridge and a routed port configured in the kernel forward in the chip")
    func bootToForwarding() throws {
        let sw = EmbeddedSwitch()
        var stages = StagePipeline(capabilities: sw.asic.capabilities)
        let engine = OffloadEngine(driver: sw.asic)
        engine.submit(stages.apply(Self.boot))
        engine.run()
        let route = HardwareKey.route(vrf: 254, IPPrefix("198.51.100.0/24")!)
        #expect(engine.state(of: route) == .offloaded)
        #expect(engine.state(of: .bridge(BridgeID(rawValue: Self.br0.rawValue))) == .offloaded)
        #expect(engine.audit().isEmpty)

        // Bridged: unknown unicast from swp1 floods to swp2 and swp3 only.
        sw.inject(FrameBuilder.udp(srcMAC: MACAddress("02:00:00:00:aa:01")!, dstMAC: MACAddress("02:00:00:00:aa:02")!,
                                   src: IPAddress("192.168.0.1")!, dst: IPAddress("192.168.0.2")!, srcPort: 1, dstPort: 2), on: 1)
        #expect(sw.drainCounts() == [2: 1, 3: 1])

        // Routed in on swp5: to the gateway's MAC out of swp4, TTL decremented.
        let toRouter = FrameBuilder.udp(srcMAC: MACAddress("02:00:00:00:aa:09")!, dstMAC: MACAddress(rawValue: 0x0200_0000_0105),
                                        src: IPAddress("10.0.5.9")!, dst: IPAddress("198.51.100.7")!, srcPort: 1, dstPort: 2)
        sw.inject(toRouter, on: 5)
        let bytes = try #require(sw.readOutbound(on: 4))
        let out = try #require(FrameParser.parse(bytes).frame)
        #expect(out.dstMAC == Self.gatewayMAC && out.srcMAC == Self.swp4MAC && out.ttl == 63)

        // The gateway's neighbour entry goes away: the route stays, its traffic is trapped.
        engine.submit(stages.apply([.neighbor(.removed(Self.neighbor))]))
        engine.run()
        #expect(engine.state(of: route) == .trapped(reason: "route 198.51.100.0/24 → nexthop 10.0.4.2 → neighbor 10.0.4.2 (rif 14) unresolved"))
        sw.inject(toRouter, on: 5)
        #expect(sw.drainTrapReasons() == [.unresolvedNexthop])
        _ = sw.readEvents()
        try sw.finish()
    }
}

import EmulatedASIC
import SwitchDriver
import SwitchModel
import Testing

/// Port traps (`PortSettings.ingressTrap` / `.egressTrap`): kernel state the chip cannot
/// express keeps a direction of a port's traffic on the CPU. A frame is trapped whole or
/// forwarded, never both: the kernel forwards the trapped copy itself.
@Suite("Emulated chip: port traps")
struct ChipPortTrapTests {
    @Test("an ingress-trapped port: every frame arriving there goes to the CPU, the chip forwards none")
    func ingressTrap() throws {
        let sw = try EmbeddedSwitch.bridged { if $0.port == 1 { $0.ingressTrap = "tc ingress filter u32 on swp1 not offloaded" } }
        let frame = Frame.udp(from: 1, to: 2)
        sw.inject(frame, on: 1)
        let t = try #require(sw.readTrapped())
        #expect(t.port == 1 && t.reason == .portTrap && t.frame == frame)
        #expect(sw.drainCounts().isEmpty)
        #expect(sw.readEvents().filter { if case .macLearned = $0 { true } else { false } }.isEmpty)
        // Traffic towards the trapped port is still forwarded by the chip.
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        #expect(sw.drainCounts() == [1: 1, 3: 1, 4: 1])
        // The trap lifted: the port forwards again.
        try sw.setPort(1) { _ in }
        sw.inject(frame, on: 1)
        #expect(sw.drainCounts() == [2: 1])
        try sw.finish()
    }

    @Test("an egress-trapped port: unicast, flood and broadcast that would leave there go whole to the CPU")
    func egressTrap() throws {
        let sw = try EmbeddedSwitch.bridged { if $0.port == 2 { $0.egressTrap = "egress qdisc tbf on swp2 not offloaded" } }
        // Flood including port 2: trapped whole on the ingress port, sent nowhere.
        let flood = Frame.udp(from: 1, to: 9)
        sw.inject(flood, on: 1)
        let t = try #require(sw.readTrapped())
        #expect(t.port == 1 && t.reason == .portTrap && t.frame == flood)
        #expect(sw.drainCounts().isEmpty)
        sw.inject(Frame.broadcast(from: 3), on: 3)
        #expect(sw.drainTrapReasons() == [.portTrap])
        #expect(sw.drainCounts().isEmpty)
        // Port 2 is learned by the chip (its ingress is not trapped); unicast to it traps.
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        #expect(sw.drainCounts() == [1: 1])
        sw.inject(Frame.udp(from: 3, to: 2), on: 3)
        #expect(sw.drainTrapReasons() == [.portTrap])
        #expect(sw.drainCounts().isEmpty)
        // Unicast between other ports is untouched.
        sw.inject(Frame.udp(from: 3, to: 1), on: 3)
        #expect(sw.drainCounts() == [1: 1])
        try sw.setPort(2) { _ in }
        sw.inject(Frame.udp(from: 3, to: 2), on: 3)
        #expect(sw.drainCounts() == [2: 1])
        try sw.finish()
    }

    @Test("routing out of an egress-trapped port traps the original frame; other routes still forward")
    func routedEgressTrap() throws {
        let sw = try ChipRouterTests.router()
        try sw.program([.port(PortSettings(port: 2, egressTrap: "egress qdisc tbf on swp2 not offloaded"))])
        let frame = ChipRouterTests.toRouter(dst: "10.0.2.2")
        sw.inject(frame, on: 1)
        let t = try #require(sw.readTrapped())
        #expect(t.port == 1 && t.reason == .portTrap && t.frame == frame)
        #expect(sw.drainCounts().isEmpty)
        sw.inject(ChipRouterTests.toRouter(dst: "10.0.3.2"), on: 1)
        #expect(sw.drainCounts() == [3: 1])
        try sw.finish()
    }

    @Test("routing into a bridge VLAN with an egress-trapped member traps the original frame")
    func routedIntoBridgeEgressTrap() throws {
        let sw = try EmbeddedSwitch.bridged(ports: [1, 2]) { if $0.port == 2 { $0.egressTrap = "egress qdisc tbf on swp2 not offloaded" } }
        try sw.program([
            .port(PortSettings(port: 3)),
            .routerInterface(RouterInterface(id: 3, binding: .port(3), mac: Host.routerMAC)),
            .routerInterface(RouterInterface(id: 10, binding: .bridge(10, .none), mac: Host.routerMAC)),
            .route(HardwareRoute(prefix: IPPrefix("10.0.10.0/24")!, action: .attached(10))),
            .neighbor(HardwareNeighbor(rif: 10, address: Host.ip("10.0.10.2"), mac: Host.mac(1))),
        ])
        let frame = Frame.udp(from: 3, to: Host.routerMAC, src: "10.0.3.2", dst: "10.0.10.2")
        sw.inject(frame, on: 3)
        let t = try #require(sw.readTrapped())
        #expect(t.port == 3 && t.reason == .portTrap && t.frame == frame)
        #expect(sw.drainCounts().isEmpty)
        try sw.finish()
    }

    @Test("VXLAN out of an egress-trapped underlay port: unicast into the tunnel and head-end replication trap the original frame")
    func tunnelEgressTrap() throws {
        let sw = try ChipVXLANTests.vtep()
        try sw.program([
            .port(PortSettings(port: 4, egressTrap: "egress qdisc tbf on swp4 not offloaded")),
            .fdb(HardwareFDBEntry(bridge: 10, mac: Host.mac(50), destination: .tunnel(vni: 100, remote: ChipVXLANTests.remote))),
            .vxlanFlood(VXLANFloodEntry(vni: 100, remote: ChipVXLANTests.remote)),
        ])
        let unicast = Frame.udp(from: 1, to: 50)
        sw.inject(unicast, on: 1)
        let t = try #require(sw.readTrapped())
        #expect(t.port == 1 && t.reason == .portTrap && t.frame == unicast)
        // A flood that would reach port 2 and the remote VTEP: whole to the CPU, port 2 gets nothing.
        sw.inject(Frame.udp(from: 1, to: 77), on: 1)
        #expect(sw.drainTrapReasons() == [.portTrap])
        #expect(sw.drainCounts().isEmpty)
        _ = sw.readEvents()
        try sw.finish()
    }

    @Test("trapping a port's ingress flushes what the chip learned there (the kernel learns from the trapped frames)")
    func ingressTrapFlushes() throws {
        let sw = try EmbeddedSwitch.bridged()
        sw.inject(Frame.udp(from: 1, to: 2), on: 1)
        _ = sw.drainOutbound()
        _ = sw.readEvents()
        try sw.setPort(1) { $0.ingressTrap = "tc ingress filter u32 on swp1 not offloaded" }
        #expect(sw.readEvents() == [.macAged(bridge: 10, vid: .none, mac: Host.mac(1), destination: .port(1))])
        try sw.setPort(1) { $0.ingressTrap = "still trapped, another reason" }
        #expect(sw.readEvents().isEmpty)
        try sw.finish()
    }

    @Test("ARP broadcast in a VLAN with a router interface and an egress-trapped member: one copy to the CPU, not two")
    func arpCopyNotDuplicated() throws {
        let sw = try EmbeddedSwitch.bridged(ports: [1, 2]) { if $0.port == 2 { $0.egressTrap = "egress qdisc tbf on swp2 not offloaded" } }
        try sw.program([.routerInterface(RouterInterface(id: 10, binding: .bridge(10, .none), mac: Host.routerMAC))])
        let arp = FrameBuilder.arpRequest(srcMAC: Host.mac(1), senderIP: Host.ip("10.0.0.1"), targetIP: Host.ip("10.0.0.254"))
        sw.inject(arp, on: 1)
        #expect(sw.drainTrapReasons() == [.portTrap])
        #expect(sw.drainCounts().isEmpty)
        _ = sw.readEvents()
        try sw.finish()
    }

    @Test("routing into a bridge VLAN whose VXLAN underlay leaves through an egress-trapped port traps the original frame")
    func routedIntoTunnelEgressTrap() throws {
        let sw = try ChipVXLANTests.vtep()
        try sw.program([
            .port(PortSettings(port: 3)),
            .routerInterface(RouterInterface(id: 3, binding: .port(3), mac: Host.routerMAC)),
            .routerInterface(RouterInterface(id: 10, binding: .bridge(10, .none), mac: Host.routerMAC)),
            .route(HardwareRoute(prefix: IPPrefix("10.0.10.0/24")!, action: .attached(10))),
            .neighbor(HardwareNeighbor(rif: 10, address: Host.ip("10.0.10.50"), mac: Host.mac(50))),
            .fdb(HardwareFDBEntry(bridge: 10, mac: Host.mac(50), destination: .tunnel(vni: 100, remote: ChipVXLANTests.remote))),
        ])
        let frame = Frame.udp(from: 3, to: Host.routerMAC, src: "10.0.3.2", dst: "10.0.10.50")
        sw.inject(frame, on: 3)
        #expect(sw.drainCounts() == [4: 1], "the chip routes and encapsulates while nothing is trapped")
        try sw.program([.port(PortSettings(port: 4, egressTrap: "egress qdisc tbf on swp4 not offloaded"))])
        sw.inject(frame, on: 3)
        let t = try #require(sw.readTrapped())
        #expect(t.port == 3 && t.reason == .portTrap && t.frame == frame)
        #expect(sw.drainCounts().isEmpty)
        _ = sw.readEvents()
        try sw.finish()
    }
}

import EmulatedASIC
import SwitchDriver
import SwitchModel
import Testing

/// Link aggregation in the chip: a bond over swp1 and swp2 is lag1 in a bridge with swp3
/// and swp4. Which member a frame leaves by is the kernel bond's hash (`bond_xmit_hash`,
/// checked against the kernel frame by frame in the VM's `lag-*` difftests); here its
/// values for two frames, worked by hand from `__bond_xmit_hash`.
@Suite("Emulated chip: link aggregation")
struct ChipLAGTests {
    static let lag1 = PortID.lag(1)

    static func lag(distributing: [PortID] = [1, 2], collecting: PortSet = [1, 2], hash: LAGHash = .layer34) -> HardwareObject {
        .lag(HardwareLAG(id: lag1, members: [1, 2], distributing: distributing, collecting: collecting, hash: hash))
    }

    /// swp1…swp4 configured; lag1 over swp1 and swp2 in bridge 10 with swp3 and swp4.
    static func switchWithLAG(_ lag: HardwareObject = lag()) throws -> EmbeddedSwitch {
        let sw = EmbeddedSwitch()
        try sw.program([.bridge(BridgeSettings(bridge: 10)), .port(PortSettings(port: 1, learning: false)),
                        .port(PortSettings(port: 2, learning: false)), lag, .port(PortSettings(port: lag1, bridge: 10)),
                        .port(PortSettings(port: 3, bridge: 10)), .port(PortSettings(port: 4, bridge: 10))])
        return sw
    }

    @Test("frames from a member are the LAG's (learned on lag1, never sent back into it); one copy of a flood leaves the LAG, by the layer3+4 hash")
    func bridging() throws {
        let sw = try Self.switchWithLAG()
        let fromLAG = Frame.udp(from: 1, to: 3)
        sw.inject(fromLAG, on: 2)
        #expect(sw.drainOutbound() == [3: [fromLAG], 4: [fromLAG]])
        #expect(sw.readEvents() == [.macLearned(bridge: 10, vid: .none, mac: Host.mac(1), destination: .port(Self.lag1))])
        // 10.0.0.1 → 10.0.0.2, ports 1000 → 2000: ((0xD007E803 ^ 0x0200000A ^ 0x0100000A), folded) >> 1 is odd: swp2.
        let odd = Frame.udp(from: 3, to: Host.mac(1), srcPort: 1000)
        sw.inject(odd, on: 3)
        #expect(sw.drainOutbound() == [2: [odd]])
        // … ports 1002 → 2000: even: swp1.
        let even = Frame.udp(from: 3, to: Host.mac(1), srcPort: 1002)
        sw.inject(even, on: 3)
        #expect(sw.drainOutbound() == [1: [even]])
        // A flood: swp4 and one member.
        let flood = Frame.broadcast(from: 3)
        sw.inject(flood, on: 3)
        let out = sw.drainOutbound()
        #expect(out[4] == [flood] && out.count == 2 && (out[1] == [flood]) != (out[2] == [flood]))
        try sw.finish()
    }

    @Test("a member the bond does not collect from sends what it receives to the CPU, up that member; a LAG that distributes through none drops")
    func inactiveMembers() throws {
        let sw = try Self.switchWithLAG(Self.lag(distributing: [], collecting: [1]))
        let frame = Frame.udp(from: 1, to: 3)
        sw.inject(frame, on: 2)
        #expect(sw.drainOutbound().isEmpty)
        let trapped = sw.readTrapped()
        #expect(trapped?.port == 2 && trapped?.reason == .portTrap)
        sw.inject(Frame.broadcast(from: 3), on: 3)
        #expect(sw.drainCounts() == [4: 1])
    }

    @Test("what the LAG's own ingress traps goes up the member it arrived on")
    func trapsUpTheMember() throws {
        let sw = try Self.switchWithLAG()
        try sw.program([.port(PortSettings(port: Self.lag1, bridge: 10, ingressTrap: "tc ingress filter on bond0"))])
        sw.inject(Frame.udp(from: 1, to: 3), on: 2)
        #expect(sw.drainOutbound().isEmpty)
        #expect(sw.readTrapped()?.port == 2)
    }

    @Test("the LAG's link is up while a member's is; when the last goes down, what it learned is flushed")
    func linkState() throws {
        let sw = try Self.switchWithLAG()
        sw.inject(Frame.udp(from: 1, to: 3), on: 1)
        _ = sw.drainOutbound()
        _ = sw.readEvents()
        sw.chip.setLink(1, up: false)
        #expect(sw.readEvents() == [.portOperState(1, up: false)])
        sw.chip.setLink(2, up: false)
        #expect(sw.readEvents() == [.portOperState(2, up: false), .macAged(bridge: 10, vid: .none, mac: Host.mac(1), destination: .port(Self.lag1))])
    }

    @Test("programming: members must be free ports, the LAG table and the member count are the profile's, a LAG port needs its LAG")
    func programming() throws {
        let sw = EmbeddedSwitch()
        #expect(sw.asic.apply([.set(.port(PortSettings(port: Self.lag1)))]) == [.dependencyMissing(.lag(Self.lag1))])
        let wide = HardwareLAG(id: .lag(5), members: [1, 2, 3, 4, 5], distributing: [], collecting: [])
        guard case .notSupported = sw.asic.apply([.set(.lag(wide))])[0] else { Issue.record("a LAG wider than the profile's was accepted"); return }
        try sw.program([Self.lag()])
        guard case .invalid = sw.asic.apply([.set(.lag(HardwareLAG(id: .lag(2), members: [2], distributing: [2], collecting: [2])))])[0] else {
            Issue.record("a port in two LAGs was accepted"); return
        }
        for n in 3...5 { try sw.program([.lag(HardwareLAG(id: .lag(UInt16(n)), members: [PortID(UInt16(n))], distributing: [], collecting: []))]) }
        guard case .tableFull(.lags, 4, 4) = sw.asic.apply([.set(.lag(HardwareLAG(id: .lag(6), members: [6], distributing: [], collecting: [])))])[0] else {
            Issue.record("a fifth LAG fit a 4-LAG profile"); return
        }
        #expect(sw.asic.readBack().contains(Self.lag()))
        #expect(sw.asic.apply([.remove(.lag(Self.lag1))]) == [.ok])
    }
}

import EmulatedASIC
import SwitchDriver
import SwitchModel
import Testing

/// The ingress ACL (`HardwarePortACL`): tc flower/matchall filters the chip applies to
/// frames arriving on a port, first match wins, before anything the bridge does.
@Suite("Emulated chip: ingress ACL")
struct ChipACLTests {
    /// `protocol ip flower src_ip 10.0.0.0/24 ip_proto udp dst_port 2000`.
    static func udp2000(from subnet: UInt32 = 0x0A00_0000) -> FlowMatch {
        var m = FlowMatch()
        (m.ethType, m.ipProto, m.ipProtoMask, m.dstPort, m.dstPortMask) = (0x0800, 17, 0xFF, 2000, 0xFFFF)
        (m.ipv4Src, m.ipv4SrcMask) = (subnet, 0xFFFF_FF00)
        return m
    }

    static func acl(_ port: PortID, _ rules: [ACLRule]) -> HardwareObject { .acl(HardwarePortACL(port: port, rules: rules)) }

    @Test("drop: the first matching rule drops the frame before learning; a frame it does not match goes on; hits are counted")
    func dropAndPass() throws {
        let sw = try EmbeddedSwitch.bridged { if $0.port == 1 { $0.ingressACL = true } }
        try sw.program([Self.acl(1, [ACLRule(priority: 10, handle: 1, etherType: 0x0800, match: Self.udp2000(), verdict: .drop),
                                     ACLRule(priority: 20, handle: 1, etherType: 0x0003, match: FlowMatch(), verdict: .pass)])])
        let dropped = Frame.udp(from: 1, to: 2)       // 10.0.0.1 → 10.0.0.2 udp 2000
        sw.inject(dropped, on: 1)
        #expect(sw.drainCounts().isEmpty)
        #expect(sw.readTrapped() == nil)
        #expect(sw.readEvents().filter { if case .macLearned = $0 { true } else { false } }.isEmpty, "a dropped frame was learned")
        #expect(sw.asic.counters().drops[.aclDrop] == 1)
        let other = Frame.udp(from: 1, to: Host.mac(2), src: "10.9.9.1", dst: "10.0.0.2")
        sw.inject(other, on: 1)
        #expect(sw.drainCounts() == [2: 1, 3: 1, 4: 1])
        let hits = sw.asic.counters().acl
        #expect(hits[ACLRuleID(port: 1, priority: 10, handle: 1)] == ACLRuleCounters(packets: 1, bytes: UInt64(dropped.count)))
        #expect(hits[ACLRuleID(port: 1, priority: 20, handle: 1)] == ACLRuleCounters(packets: 1, bytes: UInt64(other.count)))
        // Port 2 has no ACL: its frame is forwarded, to host 1 learned from the frame that passed.
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        #expect(sw.drainCounts() == [1: 1])
        try sw.finish()
    }

    @Test("a rule's protocol must be the frame's outermost EtherType: a tagged frame skips a protocol ip rule")
    func protocolIsOuterEtherType() throws {
        let sw = try EmbeddedSwitch.bridged { if $0.port == 1 { $0.ingressACL = true } }
        try sw.program([Self.acl(1, [ACLRule(priority: 1, handle: 1, etherType: 0x0800, match: FlowMatch(), verdict: .drop)])])
        sw.inject(Frame.udp(from: 1, to: 2), on: 1)
        #expect(sw.drainCounts().isEmpty)
        sw.inject(Frame.udp(from: 1, to: 2, vlan: [VLANTag.ctag(5)]), on: 1)
        #expect(sw.drainCounts() == [2: 1, 3: 1, 4: 1])
        try sw.finish()
    }

    @Test("trap sends the frame to the CPU; matchall drop takes BPDUs too (tc ingress runs before the bridge)")
    func trapAndLinkLocal() throws {
        let sw = try EmbeddedSwitch.bridged { if $0.port <= 2 { $0.ingressACL = true } }
        try sw.program([Self.acl(1, [ACLRule(priority: 1, handle: 1, etherType: 0x0800, match: Self.udp2000(), verdict: .trap)]),
                        Self.acl(2, [ACLRule(priority: 1, handle: 1, etherType: 0x0003, match: FlowMatch(), verdict: .drop)])])
        let frame = Frame.udp(from: 1, to: 2)
        sw.inject(frame, on: 1)
        let t = try #require(sw.readTrapped())
        #expect(t.port == 1 && t.reason == .aclTrap && t.frame == frame)
        #expect(sw.drainCounts().isEmpty)
        let bpdu = FrameBuilder.ethernet(dst: MACAddress("01:80:c2:00:00:00")!, src: Host.mac(2), etherType: 0x0026, payload: Array(repeating: 0, count: 46))
        sw.inject(bpdu, on: 2)
        #expect(sw.readTrapped() == nil, "the BPDU was trapped instead of dropped by matchall")
        #expect(sw.asic.counters().drops[.aclDrop] == 1)
        try sw.finish()
    }

    @Test("a port classified by an ACL the chip does not hold sends everything up; the ACL programmed, it classifies")
    func requiredButAbsent() throws {
        let sw = try EmbeddedSwitch.bridged { if $0.port == 1 { $0.ingressACL = true } }
        sw.inject(Frame.udp(from: 1, to: 2), on: 1)
        #expect(sw.readTrapped()?.reason == .portTrap)
        #expect(sw.drainCounts().isEmpty)
        try sw.program([Self.acl(1, [ACLRule(priority: 1, handle: 1, etherType: 0x0800, match: Self.udp2000(from: 0x0B00_0000), verdict: .drop)])])
        sw.inject(Frame.udp(from: 1, to: 2), on: 1)
        #expect(sw.readTrapped() == nil)
        #expect(sw.drainCounts() == [2: 1, 3: 1, 4: 1])
        try sw.apply([.remove(.acl(1))])
        sw.inject(Frame.udp(from: 1, to: 2), on: 1)
        #expect(sw.readTrapped()?.reason == .portTrap)
        try sw.finish()
    }

    @Test("the ACL TCAM holds a rule per entry: an ACL that does not fit is refused whole, counted per rule in occupancy")
    func tcamFull() throws {
        let sw = try EmbeddedSwitch.bridged { if $0.port <= 2 { $0.ingressACL = true } }
        let capacity = TableProfile.small.capacity(.acl)
        let rules = (0..<capacity - 1).map { ACLRule(priority: 1, handle: UInt32($0 + 1), etherType: 0x0003, match: FlowMatch(), verdict: .pass) }
        try sw.program([Self.acl(1, rules)])
        #expect(sw.asic.counters().tables[.acl] == TableOccupancy(used: capacity - 1, capacity: capacity))
        let two = [ACLRule(priority: 1, handle: 1, etherType: 0x0003, match: FlowMatch(), verdict: .drop),
                   ACLRule(priority: 2, handle: 1, etherType: 0x0003, match: FlowMatch(), verdict: .drop)]
        #expect(sw.asic.apply([.set(Self.acl(2, two))]) == [.tableFull(.acl, used: capacity - 1, capacity: capacity)])
        // Port 2 holds no ACL: its frames go to the CPU, none is forwarded past a filter.
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        #expect(sw.readTrapped()?.reason == .portTrap)
        try sw.apply([.remove(.acl(1))])
        try sw.program([Self.acl(2, two)])
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        #expect(sw.drainCounts().isEmpty && sw.readTrapped() == nil)
        try sw.finish()
    }
}

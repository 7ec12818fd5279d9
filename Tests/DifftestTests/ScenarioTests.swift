import Difftest
import EmulatedASIC
import Lab
import SwitchModel
import Testing

@Suite("Difftest scenarios and frame comparison")
struct ScenarioTests {
    static let text = """
        # two hosts in a bridge
        switch sw ports 2
        host h1 sw:1 10.0.0.1/24
        host h2 sw:2 10.0.0.2/24 mac 02:00:00:00:00:22
        exec sw ip link add br0 type bridge
        send h1 arp-request 10.0.0.2 count 3
        exec sw ip link set br0 up
        send h1 udp 10.0.0.2 dport 7 count 2
        ping h2 10.0.0.1 count 2
        wait 0.5
        window 200
        """

    @Test("statements run in file order; hosts get MACs; IPv6 is off unless asked")
    func parse() throws {
        let s = try Scenario.parse(Self.text, name: "t")
        #expect(s.spec.ipv6 == false)
        #expect(s.spec.hostNamed("h1")?.mac == MACAddress("02:00:00:00:01:01"))
        #expect(s.spec.hostNamed("h2")?.mac == MACAddress("02:00:00:00:00:22"))
        #expect(s.steps.map(\.line) == [5, 6, 7, 8, 9, 10])
        #expect(s.windowMilliseconds == 200)
        guard case .send(let arp) = s.steps[1], case .send(let udp) = s.steps[3] else { Issue.record("not sends"); return }
        #expect(arp.frames.count == 3 && arp.frames[0] == FrameBuilder.arpRequest(
            srcMAC: MACAddress("02:00:00:00:01:01")!, senderIP: IPAddress("10.0.0.1")!, targetIP: IPAddress("10.0.0.2")!))
        // A unicast to a host's address goes to that host's MAC; IP ids count 1…N.
        #expect(Array(udp.frames[0][0..<6]) == [2, 0, 0, 0, 0, 0x22])
        #expect(udp.frames[1][18...19] == [0, 2])
    }

    @Test("IGMPv3 and MLDv2 reports: one group record of the given mode and sources")
    func sourceFilteringReports() throws {
        let s = try Scenario.parse("""
            switch sw ports 1
            host h1 sw:1 10.0.0.1/24 2001:db8::1/64
            send h1 igmpv3-report 239.1.1.1 mode block sources 10.0.0.9,10.0.0.8 vlan 5
            send h1 mldv2-report ff05::1 mode to-exclude from fe80::1
            """, name: "t")
        guard case .send(let v3) = s.steps[0], case .send(let v2) = s.steps[1] else { Issue.record("not sends"); return }
        let mac = MACAddress("02:00:00:00:01:01")!
        #expect(v3.frames == [FrameBuilder.igmpv3Report(srcMAC: mac, vlan: [.ctag(5)], src: IPAddress("10.0.0.1")!, records: [
            GroupRecord(kind: .blockOldSources, group: IPAddress("239.1.1.1")!, sources: [IPAddress("10.0.0.9")!, IPAddress("10.0.0.8")!]),
        ])])
        #expect(v2.frames == [FrameBuilder.mldv2Report(srcMAC: mac, src: IPAddress("fe80::1")!, records: [
            GroupRecord(kind: .changeToExclude, group: IPAddress("ff05::1")!),
        ])])
        for bad in ["send h1 igmpv3-report 239.1.1.1", "send h1 igmpv3-report 239.1.1.1 mode nope",
                    "send h1 igmpv3-report 10.0.0.2 mode allow", "send h1 mldv2-report ff05::1 mode allow sources 10.0.0.9"] {
            #expect(throws: LabError.self) { try Scenario.parse("switch sw ports 1\nhost h1 sw:1 10.0.0.1/24\n\(bad)\n", name: "t") }
        }
    }

    @Test("mistakes name their line")
    func errors() {
        #expect(throws: LabError.self) { try Scenario.parse("switch sw ports 1\nhost h1 sw:1\nsend h1 udp\n", name: "t") }
        do {
            _ = try Scenario.parse("switch sw ports 1\nhost h1 sw:1 10.0.0.1/24\nsend h1 bogus\n", name: "t", file: "f.diff")
            Issue.record("accepted an unknown kind")
        } catch {
            #expect(error.line == 3 && "\(error)".hasPrefix("f.diff:3:"))
        }
        #expect(throws: LabError.self) { try Scenario.parse("switch sw ports 1\nhost h1 sw:1\n", name: "t") }   // no probe
    }

    @Test("ignored fields: IPv4 id and valid checksums, padding; a wrong checksum still differs")
    func normalize() {
        let a = FrameBuilder.icmpEcho(srcMAC: MACAddress("02:00:00:00:00:01")!, dstMAC: MACAddress("02:00:00:00:00:02")!,
                                      src: IPAddress("10.0.0.1")!, dst: IPAddress("10.0.0.2")!, payload: [1, 2, 3])
        var b = a
        b[18] = 0x12; b[19] = 0x34                                  // another id: the checksum follows
        b[24] = 0; b[25] = 0
        let sum = InternetChecksum.checksum(b, range: 14..<34)
        b[24] = UInt8(sum >> 8); b[25] = UInt8(sum & 0xFF)
        let c = FrameComparison.normalize(b)
        #expect(FrameComparison.normalize(a) == c)
        #expect(c.count == 14 + 20 + 11)                            // padding dropped
        var wrong = b
        wrong[25] ^= 1
        #expect(FrameComparison.normalize(wrong) != c)
        var ttl = b
        ttl[22] -= 1                                                // a TTL change is never ignored
        #expect(FrameComparison.normalize(ttl) != c)
        #expect(FrameComparison.firstDifference([a, a], [a])?.index == 1)
        #expect(FrameComparison.summary(a).contains("ICMP type 8 code 0 echo-request seq 1"))
    }

    @Test("VXLAN: another in-range source port and its valid UDP checksum are ignored; a wrong checksum or an out-of-range port differs")
    func vxlanSourcePort() {
        let inner = FrameBuilder.icmpEcho(srcMAC: MACAddress("02:00:00:00:00:01")!, dstMAC: MACAddress("02:00:00:00:00:02")!,
                                          src: IPAddress("10.0.0.1")!, dst: IPAddress("10.0.0.2")!, payload: [1, 2, 3])
        func packet(_ port: UInt16, checksum: Bool = true) -> [UInt8] {
            FrameBuilder.vxlan(outerSrcMAC: MACAddress("02:00:00:00:01:01")!, outerDstMAC: MACAddress("02:00:00:00:01:02")!,
                               outerSrc: IPAddress("192.168.100.1")!, outerDst: IPAddress("192.168.100.2")!,
                               srcPort: port, vni: 100, inner: inner, udpChecksum: checksum)
        }
        let a = packet(36560), b = packet(50700)
        #expect(a != b)
        #expect(FrameComparison.normalize(a) == FrameComparison.normalize(b))
        #expect(FrameComparison.normalize(packet(36560, checksum: false)) == FrameComparison.normalize(packet(50700, checksum: false)))
        #expect(FrameComparison.normalize(packet(36560, checksum: false)) != FrameComparison.normalize(a))
        var wrong = b
        wrong[14 + 20 + 7] ^= 1
        #expect(FrameComparison.normalize(wrong) != FrameComparison.normalize(a))
        #expect(FrameComparison.normalize(packet(1000)) != FrameComparison.normalize(a))
        // As a veth delivers a kernel's own (CHECKSUM_PARTIAL): the pseudo-header sum alone.
        var partial = packet(40203)
        let sum = InternetChecksum.fold(InternetChecksum.pseudoHeaderSum(
            source: IPAddress("192.168.100.1")!, destination: IPAddress("192.168.100.2")!, protocol: IPProtocol.udp,
            length: partial.count - 34))
        partial[40] = UInt8(sum >> 8); partial[41] = UInt8(sum & 0xFF)
        #expect(FrameComparison.normalize(partial) == FrameComparison.normalize(a))
    }
}

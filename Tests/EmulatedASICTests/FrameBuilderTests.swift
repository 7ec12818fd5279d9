import EmulatedASIC
import SwitchModel
import Testing

/// Builder output against bytes written out by hand from the RFC layouts (checksums
/// computed independently), so builder and parser cannot agree on a shared mistake.
@Suite("FrameBuilder: known-good bytes")
struct FrameBuilderTests {
    let a = Fixture.macA, b = Fixture.macB

    @Test("IPv4 header matches the classic RFC 1071 example (checksum b861)")
    func ipv4Header() {
        let packet = FrameBuilder.ipv4Packet(src: IPAddress("192.168.0.1")!, dst: IPAddress("192.168.0.199")!,
                                             protocol: 17, payload: [UInt8](repeating: 0, count: 0x73 - 20), dontFragment: true)
        #expect(Array(packet.prefix(20)) == hexBytes("45 00 00 73 00 00 40 00 40 11 b8 61 c0 a8 00 01 c0 a8 00 c7"))
    }

    @Test("ARP request (RFC 826), padded to 60 bytes")
    func arpRequest() {
        let frame = FrameBuilder.arpRequest(srcMAC: a, senderIP: Fixture.ipA, targetIP: Fixture.ipB)
        let expected = hexBytes("""
            ff ff ff ff ff ff  02 00 00 00 00 01  08 06
            00 01  08 00  06  04  00 01
            02 00 00 00 00 01  0a 00 00 01
            00 00 00 00 00 00  0a 00 00 02
            """) + [UInt8](repeating: 0, count: 18)
        #expect(frame == expected)
        #expect(FrameBuilder.arpRequest(srcMAC: a, senderIP: Fixture.ipA, targetIP: Fixture.ipB, pad: false).count == 42)
    }

    @Test("IGMPv2 report (RFC 2236): TTL 1, router alert, to the group's MAC")
    func igmpv2Report() {
        let frame = FrameBuilder.igmpv2Report(srcMAC: a, src: Fixture.ipA, group: IPAddress("239.1.2.3")!)
        let expected = hexBytes("""
            01 00 5e 01 02 03  02 00 00 00 00 01  08 00
            46 00 00 20  00 00 00 00  01 02 29 d3  0a 00 00 01  ef 01 02 03  94 04 00 00
            16 00 f8 fa  ef 01 02 03
            """) + [UInt8](repeating: 0, count: 14)
        #expect(frame == expected)
    }

    @Test("UDP over IPv4 (RFC 768) with the pseudo-header checksum")
    func udp() {
        let frame = FrameBuilder.udp(srcMAC: a, dstMAC: b, src: Fixture.ipA, dst: Fixture.ipB, srcPort: 1234, dstPort: 80,
                                     payload: Array("hello".utf8))
        let expected = hexBytes("""
            02 00 00 00 00 02  02 00 00 00 00 01  08 00
            45 00 00 21  00 00 00 00  40 11 66 ca  0a 00 00 01  0a 00 00 02
            04 d2 00 50  00 0d a2 dd  68 65 6c 6c 6f
            """) + [UInt8](repeating: 0, count: 13)
        #expect(frame == expected)
    }

    @Test("TCP SYN (RFC 9293)")
    func tcp() {
        let frame = FrameBuilder.tcp(srcMAC: a, dstMAC: b, src: Fixture.ipA, dst: Fixture.ipB, srcPort: 40000, dstPort: 22,
                                     flags: [.syn], sequence: 1000)
        let expected = hexBytes("""
            02 00 00 00 00 02  02 00 00 00 00 01  08 00
            45 00 00 28  00 00 00 00  40 06 66 ce  0a 00 00 01  0a 00 00 02
            9c 40 00 16  00 00 03 e8  00 00 00 00  50 02 ff ff  fb a1 00 00
            """) + [UInt8](repeating: 0, count: 6)
        #expect(frame == expected)
    }

    @Test("ICMP echo request (RFC 792)")
    func icmpEcho() {
        let frame = FrameBuilder.icmpEcho(srcMAC: a, dstMAC: b, src: Fixture.ipA, dst: Fixture.ipB)
        let expected = hexBytes("""
            02 00 00 00 00 02  02 00 00 00 00 01  08 00
            45 00 00 1c  00 00 00 00  40 01 66 df  0a 00 00 01  0a 00 00 02
            08 00 f7 fd  00 01 00 01
            """) + [UInt8](repeating: 0, count: 18)
        #expect(frame == expected)
    }

    @Test("VXLAN (RFC 7348 §5): header, outer IPv4/UDP with checksum 0 (noudpcsum)")
    func vxlan() {
        #expect(FrameBuilder.vxlanHeader(vni: 0x12_3456) == hexBytes("08 00 00 00 12 34 56 00"))
        let inner = FrameBuilder.udp(srcMAC: a, dstMAC: b, src: Fixture.ipA, dst: Fixture.ipB, srcPort: 1234, dstPort: 80,
                                     payload: Array("hello".utf8))
        let frame = FrameBuilder.vxlan(outerSrcMAC: a, outerDstMAC: b, outerSrc: IPAddress("192.0.2.1")!,
                                       outerDst: IPAddress("192.0.2.2")!, srcPort: 49152, vni: 0x12_3456, inner: inner,
                                       udpChecksum: false)
        let expected = hexBytes("""
            02 00 00 00 00 02  02 00 00 00 00 01  08 00
            45 00 00 60  00 00 00 00  40 11 f6 89  c0 00 02 01  c0 00 02 02
            c0 00 12 b5  00 4c 00 00
            08 00 00 00  12 34 56 00
            """) + inner
        #expect(frame == expected)
        #expect(FrameBuilder.vxlanInnerOffset() == 50)
    }

    @Test("Neighbor Solicitation (RFC 4861 §4.3) to the solicited-node group")
    func neighborSolicitation() {
        let frame = FrameBuilder.neighborSolicitation(srcMAC: a, src: Fixture.v6A, target: Fixture.v6B)
        let expected = hexBytes("""
            33 33 ff 00 00 02  02 00 00 00 00 01  86 dd
            60 00 00 00  00 20 3a ff
            20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01
            ff 02 00 00 00 00 00 00 00 00 00 01 ff 00 00 02
            87 00 1c 27  00 00 00 00
            20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 02
            01 01 02 00 00 00 00 01
            """)
        #expect(frame == expected)
        #expect(FrameBuilder.solicitedNodeAddress(for: IPAddress("2001:db8::abcd:1234:5678")!) == IPAddress("ff02::1:ff34:5678")!)
    }

    @Test("MLDv2 report (RFC 3810 §5.2) with a hop-by-hop router alert (RFC 2711)")
    func mldv2Report() {
        let frame = FrameBuilder.mldv2Report(srcMAC: a, src: Fixture.linkLocalA,
                                             records: [GroupRecord(kind: .changeToExclude, group: IPAddress("ff05::1")!)])
        let expected = hexBytes("""
            33 33 00 00 00 16  02 00 00 00 00 01  86 dd
            60 00 00 00  00 24 00 01
            fe 80 00 00 00 00 00 00 00 00 00 00 00 00 00 01
            ff 02 00 00 00 00 00 00 00 00 00 00 00 00 00 16
            3a 00 05 02 00 00 01 00
            8f 00 70 06  00 00 00 01
            04 00 00 00  ff 05 00 00 00 00 00 00 00 00 00 00 00 00 00 01
            """)
        #expect(frame == expected)
    }

    @Test("STP configuration BPDU (802.1D §9.3.1) in an 802.3/LLC frame")
    func stp() {
        let frame = FrameBuilder.stpConfigurationBPDU(srcMAC: b, rootID: 0x8000_0200_0000_0001, rootPathCost: 4,
                                                      bridgeID: 0x8000_0200_0000_0002)
        let expected = hexBytes("""
            01 80 c2 00 00 00  02 00 00 00 00 02  00 26
            42 42 03
            00 00 00 00 00
            80 00 02 00 00 00 00 01  00 00 00 04  80 00 02 00 00 00 00 02
            80 01  00 00  14 00  02 00  0f 00
            """) + [UInt8](repeating: 0, count: 8)
        #expect(frame == expected)
    }

    @Test("LLDP (802.1AB §8): chassis, port, TTL, end TLVs")
    func lldp() {
        let frame = FrameBuilder.lldp(srcMAC: a, chassisID: a, portID: "swp1")
        let expected = hexBytes("""
            01 80 c2 00 00 0e  02 00 00 00 00 01  88 cc
            02 07 04 02 00 00 00 00 01
            04 05 05 73 77 70 31
            06 02 00 78
            00 00
            """) + [UInt8](repeating: 0, count: 24)
        #expect(frame == expected)
    }

    @Test("VLAN tags are inserted outermost first; padding is optional")
    func tagsAndPadding() {
        let frame = FrameBuilder.ethernet(dst: b, src: a, vlan: [.stag(100, pcp: 5), .ctag(200)], etherType: 0x88B5,
                                          payload: [1, 2, 3], pad: false)
        #expect(frame == hexBytes("02 00 00 00 00 02  02 00 00 00 00 01  88 a8 a0 64  81 00 00 c8  88 b5  01 02 03"))
        #expect(FrameBuilder.ethernet(dst: b, src: a, etherType: 0x88B5, payload: [1]).count == 60)
        #expect(FrameBuilder.ethernet(dst: b, src: a, etherType: 0x88B5, payload: [UInt8](repeating: 7, count: 100)).count == 114)
    }

    @Test("Multicast MAC mapping (RFC 1112 §6.4, RFC 2464 §7)")
    func multicastMAC() {
        #expect(FrameBuilder.multicastMAC(for: IPAddress("239.129.2.3")!) == MACAddress("01:00:5e:01:02:03")!)
        #expect(FrameBuilder.multicastMAC(for: IPAddress("ff02::1:ff00:2")!) == MACAddress("33:33:ff:00:00:02")!)
    }
}

import EmulatedASIC
import SwitchModel
import Testing

/// Every builder output parses back with the right fields.
@Suite("FrameParser: well-formed frames")
struct FrameParserTests {
    let a = Fixture.macA, b = Fixture.macB

    @Test("UDP over IPv4, untagged")
    func udpIPv4() throws {
        let frame = FrameBuilder.udp(srcMAC: a, dstMAC: b, src: Fixture.ipA, dst: Fixture.ipB, srcPort: 1234, dstPort: 80,
                                     payload: [1, 2, 3], ttl: 17)
        let f = try #require(parsed(frame))
        #expect(f.length == 60)
        #expect(f.dstMAC == b && f.srcMAC == a)
        #expect(f.tagCount == 0 && f.outerTPID == 0 && f.outerVID == 0 && f.innerTPID == 0)
        #expect(f.etherType == EtherType.ipv4 && f.l3Offset == 14 && f.l3 == .ipv4)
        #expect(f.ipv4Src == 0x0A00_0001 && f.ipv4Dst == 0x0A00_0002)
        #expect(f.ipSource == Fixture.ipA && f.ipDestination == Fixture.ipB)
        #expect(f.ttl == 17 && f.ipProtocol == IPProtocol.udp && f.ipHeaderLength == 20 && f.ipTotalLength == 31)
        #expect(!f.hasIPOptions && !f.isFragment && !f.hasMoreFragments)
        #expect(f.l4Offset == 34 && f.srcPort == 1234 && f.dstPort == 80 && f.hasPorts)
        #expect(!f.isVXLAN && f.innerOffset == 0 && !f.isIGMP && !f.isMLD && !f.isNeighborDiscovery)
    }

    @Test("One 802.1Q tag: TPID, VID, PCP")
    func singleTag() throws {
        let frame = FrameBuilder.udp(srcMAC: a, dstMAC: b, vlan: [.ctag(100, pcp: 6)], src: Fixture.ipA, dst: Fixture.ipB,
                                     srcPort: 1, dstPort: 2)
        let f = try #require(parsed(frame))
        #expect(f.tagCount == 1 && f.outerTPID == 0x8100 && f.outerVID == 100 && f.outerPCP == 6)
        #expect(f.innerTPID == 0 && f.innerVID == 0)
        #expect(f.etherType == EtherType.ipv4 && f.l3Offset == 18 && f.l4Offset == 38 && f.dstPort == 2)
    }

    @Test("802.1ad outer tag and 802.1Q inner tag (QinQ); 0x9100 outer")
    func qinq() throws {
        let frame = FrameBuilder.tcp(srcMAC: a, dstMAC: b, vlan: [.stag(3000, pcp: 3), .ctag(4094)], src: Fixture.ipA,
                                     dst: Fixture.ipB, srcPort: 5, dstPort: 6)
        let f = try #require(parsed(frame))
        #expect(f.tagCount == 2 && f.outerTPID == 0x88A8 && f.outerVID == 3000 && f.outerPCP == 3)
        #expect(f.innerTPID == 0x8100 && f.innerVID == 4094)
        #expect(f.etherType == EtherType.ipv4 && f.l3Offset == 22 && f.srcPort == 5)

        let old = FrameBuilder.ethernet(dst: b, src: a, vlan: [VLANTag(vid: 7, tpid: 0x9100), .ctag(8)],
                                        etherType: 0x1234, payload: [])
        let g = try #require(parsed(old))
        #expect(g.tagCount == 2 && g.outerTPID == 0x9100 && g.outerVID == 7 && g.innerVID == 8)
        #expect(g.etherType == 0x1234 && g.l3 == .other && g.l3Offset == 22)
    }

    @Test("UDP and TCP over IPv6")
    func ipv6() throws {
        let udp = FrameBuilder.udp(srcMAC: a, dstMAC: b, src: Fixture.v6A, dst: Fixture.v6B, srcPort: 546, dstPort: 547, ttl: 9)
        let f = try #require(parsed(udp))
        #expect(f.l3 == .ipv6 && f.etherType == EtherType.ipv6)
        #expect(f.ipv6SrcHigh == Fixture.v6A.high && f.ipv6SrcLow == Fixture.v6A.low)
        #expect(f.ipv6DstHigh == Fixture.v6B.high && f.ipv6DstLow == Fixture.v6B.low)
        #expect(f.ipSource == Fixture.v6A && f.ipDestination == Fixture.v6B)
        #expect(f.ttl == 9 && f.ipProtocol == IPProtocol.udp && f.ipHeaderLength == 40 && f.l4Offset == 54)
        #expect(f.srcPort == 546 && f.dstPort == 547 && !f.hasIPOptions)

        let tcp = FrameBuilder.tcp(srcMAC: a, dstMAC: b, src: Fixture.v6A, dst: Fixture.v6B, srcPort: 443, dstPort: 50000,
                                   flags: [.syn, .ack])
        let g = try #require(parsed(tcp))
        #expect(g.ipProtocol == IPProtocol.tcp && g.srcPort == 443 && g.dstPort == 50000 && g.tcpFlags == 0x12)
    }

    @Test("ICMP and ICMPv6 echo request and reply")
    func echo() throws {
        let v4 = try #require(parsed(FrameBuilder.icmpEcho(srcMAC: a, dstMAC: b, src: Fixture.ipA, dst: Fixture.ipB)))
        #expect(v4.ipProtocol == IPProtocol.icmp && v4.icmpType == 8 && v4.icmpCode == 0 && !v4.hasPorts)
        let v4r = try #require(parsed(FrameBuilder.icmpEcho(srcMAC: a, dstMAC: b, src: Fixture.ipA, dst: Fixture.ipB, reply: true)))
        #expect(v4r.icmpType == 0)
        let v6 = try #require(parsed(FrameBuilder.icmpEcho(srcMAC: a, dstMAC: b, src: Fixture.v6A, dst: Fixture.v6B)))
        #expect(v6.ipProtocol == IPProtocol.icmpv6 && v6.icmpType == 128 && !v6.isMLD && !v6.isNeighborDiscovery)
        let v6r = try #require(parsed(FrameBuilder.icmpEcho(srcMAC: a, dstMAC: b, src: Fixture.v6A, dst: Fixture.v6B, reply: true)))
        #expect(v6r.icmpType == 129)
    }

    @Test("ARP request and reply")
    func arp() throws {
        let request = try #require(parsed(FrameBuilder.arpRequest(srcMAC: a, vlan: [.ctag(10)], senderIP: Fixture.ipA,
                                                                  targetIP: Fixture.ipB)))
        #expect(request.l3 == .arp && request.etherType == EtherType.arp && request.l3Offset == 18)
        #expect(request.dstMAC == .broadcast && request.arpOperation == 1)
        #expect(request.arpSenderIP == 0x0A00_0001 && request.arpTargetIP == 0x0A00_0002)
        #expect(request.arpSenderMAC == a.rawValue && request.arpTargetMAC == 0)
        #expect(request.ipSource == nil && request.l4Offset == 0)

        let reply = try #require(parsed(FrameBuilder.arpReply(srcMAC: b, dstMAC: a, senderIP: Fixture.ipB, targetIP: Fixture.ipA)))
        #expect(reply.arpOperation == 2 && reply.dstMAC == a)
        #expect(reply.arpSenderMAC == b.rawValue && reply.arpTargetMAC == a.rawValue)
        #expect(reply.arpSenderIP == 0x0A00_0002 && reply.arpTargetIP == 0x0A00_0001)

        // ARP for another hardware type is not ours to parse.
        var other = FrameBuilder.arpRequest(srcMAC: a, senderIP: Fixture.ipA, targetIP: Fixture.ipB)
        other[15] = 6                                           // IEEE 802 networks
        #expect(parsed(other)?.l3 == .other)
    }

    @Test("IGMPv2 report, leave and query; IGMPv3 report")
    func igmp() throws {
        let group = IPAddress("239.1.2.3")!
        let report = try #require(parsed(FrameBuilder.igmpv2Report(srcMAC: a, src: Fixture.ipA, group: group)))
        #expect(report.isIGMP && report.icmpType == IGMPType.v2MembershipReport && report.ipProtocol == IPProtocol.igmp)
        #expect(report.hasIPOptions && report.ipHeaderLength == 24 && report.l4Offset == 38 && report.ttl == 1)
        #expect(report.dstMAC == MACAddress("01:00:5e:01:02:03")! && report.ipDestination == group)

        let leave = try #require(parsed(FrameBuilder.igmpv2Leave(srcMAC: a, src: Fixture.ipA, group: group)))
        #expect(leave.isIGMP && leave.icmpType == IGMPType.v2LeaveGroup && leave.ipDestination == IPAddress("224.0.0.2")!)
        #expect(leave.dstMAC == MACAddress("01:00:5e:00:00:02")!)

        let query = try #require(parsed(FrameBuilder.igmpQuery(srcMAC: a, src: Fixture.ipA)))
        #expect(query.isIGMP && query.icmpType == IGMPType.membershipQuery && query.icmpCode == 100)
        #expect(query.ipDestination == IPAddress("224.0.0.1")!)

        let v3 = try #require(parsed(FrameBuilder.igmpv3Report(srcMAC: a, vlan: [.ctag(5)], src: Fixture.ipA, records: [
            GroupRecord(kind: .changeToExclude, group: group),
            GroupRecord(kind: .allowNewSources, group: IPAddress("232.0.0.9")!, sources: [Fixture.ipB]),
        ])))
        #expect(v3.isIGMP && v3.icmpType == IGMPType.v3MembershipReport && v3.outerVID == 5)
        #expect(v3.ipDestination == IPAddress("224.0.0.22")! && v3.dstMAC == MACAddress("01:00:5e:00:00:16")!)
    }

    @Test("MLDv2 report: hop-by-hop skipped, options flagged, MLD flagged")
    func mld() throws {
        let f = try #require(parsed(FrameBuilder.mldv2Report(srcMAC: a, src: Fixture.linkLocalA,
                                                             records: [GroupRecord(kind: .changeToExclude, group: IPAddress("ff05::1")!)])))
        #expect(f.isMLD && !f.isNeighborDiscovery && f.icmpType == ICMPv6Type.mldv2Report)
        #expect(f.ipProtocol == IPProtocol.icmpv6 && f.hasIPOptions && f.ipHeaderLength == 48 && f.l4Offset == 62)
        #expect(f.ttl == 1 && f.ipDestination == IPAddress("ff02::16")! && f.dstMAC == MACAddress("33:33:00:00:00:16")!)
    }

    @Test("Neighbor Solicitation and Advertisement: ND flag and target")
    func neighborDiscovery() throws {
        let ns = try #require(parsed(FrameBuilder.neighborSolicitation(srcMAC: a, src: Fixture.v6A, target: Fixture.v6B)))
        #expect(ns.isNeighborDiscovery && !ns.isMLD && ns.icmpType == 135 && ns.ttl == 255)
        #expect(ns.ndTargetHigh == Fixture.v6B.high && ns.ndTargetLow == Fixture.v6B.low && ns.ndTarget == Fixture.v6B)
        #expect(ns.ipDestination == IPAddress("ff02::1:ff00:2")! && ns.dstMAC == MACAddress("33:33:ff:00:00:02")!)

        let dad = FrameBuilder.neighborSolicitation(srcMAC: a, src: .anyIPv6, target: Fixture.v6A, pad: false)
        #expect(dad.count == 14 + 40 + 24)                      // no source link-layer option from ::
        #expect(parsed(dad)?.ndTarget == Fixture.v6A)

        let na = try #require(parsed(FrameBuilder.neighborAdvertisement(srcMAC: b, dstMAC: a, src: Fixture.v6B, dst: Fixture.v6A,
                                                                        target: Fixture.v6B)))
        #expect(na.isNeighborDiscovery && na.icmpType == 136 && na.ndTarget == Fixture.v6B && na.dstMAC == a)
        let unsolicited = try #require(parsed(FrameBuilder.neighborAdvertisement(srcMAC: b, src: Fixture.v6B, target: Fixture.v6B,
                                                                                 solicited: false)))
        #expect(unsolicited.ipDestination == IPAddress("ff02::1")! && unsolicited.dstMAC == MACAddress("33:33:00:00:00:01")!)
    }

    @Test("STP BPDU (802.3 length + LLC) and LLDP are layer-2 only")
    func layer2Control() throws {
        let stp = try #require(parsed(FrameBuilder.stpConfigurationBPDU(srcMAC: a, rootID: 1, bridgeID: 2)))
        #expect(stp.l3 == .other && stp.isLLC && stp.etherType == 38 && stp.dstMAC.isLinkLocalReserved)
        let lldp = try #require(parsed(FrameBuilder.lldp(srcMAC: a, chassisID: a, portID: "swp12", systemName: "leaf1")))
        #expect(lldp.l3 == .other && !lldp.isLLC && lldp.etherType == EtherType.lldp)
        #expect(lldp.dstMAC == MACAddress("01:80:c2:00:00:0e")!)
    }

    @Test("VXLAN over IPv4 and IPv6: VNI and inner offset; the inner frame parses on its own")
    func vxlan() throws {
        let inner = FrameBuilder.udp(srcMAC: a, dstMAC: b, vlan: [.ctag(30)], src: Fixture.ipA, dst: Fixture.ipB,
                                     srcPort: 7, dstPort: 8)
        for (outerSrc, outerDst, tags) in [(IPAddress("192.0.2.1")!, IPAddress("192.0.2.2")!, [VLANTag]()),
                                           (Fixture.v6A, Fixture.v6B, [VLANTag.ctag(99)])] {
            let frame = FrameBuilder.vxlan(outerSrcMAC: b, outerDstMAC: a, vlan: tags, outerSrc: outerSrc, outerDst: outerDst,
                                           srcPort: 51000, vni: 0xABCDEF, inner: inner, ttl: 5)
            let f = try #require(parsed(frame))
            #expect(f.isVXLAN && f.vxlanVNI == 0xABCDEF && f.dstPort == 4789 && f.srcPort == 51000 && f.ttl == 5)
            #expect(f.innerOffset == FrameBuilder.vxlanInnerOffset(ipv6: !outerSrc.isIPv4, tags: tags.count))
            #expect(Array(frame[f.innerOffset...]) == inner)
            let g = try #require(parsed(Array(frame[f.innerOffset...])))
            #expect(g.outerVID == 30 && g.dstPort == 8 && g.ipSource == Fixture.ipA)
        }
    }

    @Test("VXLAN port is configurable; port 0 turns recognition off")
    func vxlanPort() throws {
        let inner = FrameBuilder.ethernet(dst: b, src: a, etherType: 0x1234, payload: [])
        let frame = FrameBuilder.vxlan(outerSrcMAC: b, outerDstMAC: a, outerSrc: Fixture.ipA, outerDst: Fixture.ipB,
                                       srcPort: 1, dstPort: 8472, vni: 42, inner: inner)
        #expect(parsed(frame)?.isVXLAN == false)
        #expect(parsed(frame, options: ParserOptions(vxlanPort: 8472))?.vxlanVNI == 42)
        let standard = FrameBuilder.vxlan(outerSrcMAC: b, outerDstMAC: a, outerSrc: Fixture.ipA, outerDst: Fixture.ipB,
                                          srcPort: 1, vni: 42, inner: inner)
        #expect(parsed(standard, options: ParserOptions(vxlanPort: 0))?.isVXLAN == false)
    }

    @Test("IPv6 extension headers are walked to the L4 protocol")
    func extensionHeaders() throws {
        let udp = FrameBuilder.udpDatagram(src: Fixture.v6A, dst: Fixture.v6B, srcPort: 9, dstPort: 10, payload: [])
        let packet = FrameBuilder.ipv6Packet(src: Fixture.v6A, dst: Fixture.v6B, nextHeader: IPProtocol.udp, payload: udp,
                                             extensionHeaders: [.hopByHop(options: FrameBuilder.ipv6RouterAlertOption),
                                                                .destinationOptions(options: [1, 12] + [UInt8](repeating: 0, count: 12)),
                                                                .routing(type: 4, segmentsLeft: 0, data: [1, 2, 3]),
                                                                .fragment(offset: 0, moreFragments: false, identification: 7)])
        let frame = FrameBuilder.ethernet(dst: b, src: a, etherType: EtherType.ipv6, payload: packet)
        let f = try #require(parsed(frame))
        #expect(f.ipProtocol == IPProtocol.udp && f.hasIPOptions && !f.isFragment)
        #expect(f.ipHeaderLength == 40 + 8 + 16 + 8 + 8 && f.l4Offset == 14 + f.ipHeaderLength)
        #expect(f.srcPort == 9 && f.dstPort == 10)
    }

    @Test("Fragments: non-first fragments have no L4; first fragments keep ports")
    func fragments() throws {
        let udp = FrameBuilder.udpDatagram(src: Fixture.ipA, dst: Fixture.ipB, srcPort: 1, dstPort: 4789,
                                           payload: [UInt8](repeating: 0, count: 100))
        let later = FrameBuilder.ipv4Packet(src: Fixture.ipA, dst: Fixture.ipB, protocol: IPProtocol.udp,
                                            payload: Array(udp[48...]), fragmentOffset: 6)
        let f = try #require(parsed(FrameBuilder.ethernet(dst: b, src: a, etherType: EtherType.ipv4, payload: later)))
        #expect(f.isFragment && !f.hasMoreFragments && f.srcPort == 0 && f.dstPort == 0 && !f.hasPorts && f.l4Offset == 34)

        // The first fragment's UDP length covers the whole datagram: accepted, not VXLAN.
        let first = FrameBuilder.ipv4Packet(src: Fixture.ipA, dst: Fixture.ipB, protocol: IPProtocol.udp,
                                            payload: Array(udp[..<48]), moreFragments: true)
        let g = try #require(parsed(FrameBuilder.ethernet(dst: b, src: a, etherType: EtherType.ipv4, payload: first)))
        #expect(!g.isFragment && g.hasMoreFragments && g.srcPort == 1 && g.dstPort == 4789 && !g.isVXLAN)

        let v6udp = FrameBuilder.udpDatagram(src: Fixture.v6A, dst: Fixture.v6B, srcPort: 3, dstPort: 4, payload: [1, 2, 3, 4])
        let v6later = FrameBuilder.ipv6Packet(src: Fixture.v6A, dst: Fixture.v6B, nextHeader: IPProtocol.udp, payload: v6udp,
                                              extensionHeaders: [.fragment(offset: 100, moreFragments: true, identification: 1)])
        let h = try #require(parsed(FrameBuilder.ethernet(dst: b, src: a, etherType: EtherType.ipv6, payload: v6later)))
        #expect(h.isFragment && h.hasMoreFragments && h.ipProtocol == IPProtocol.udp && h.srcPort == 0 && h.ipHeaderLength == 48)
    }

    @Test("Ethernet padding is not L4 data; unknown EtherTypes parse as other")
    func paddingAndOther() throws {
        let frame = FrameBuilder.ip(srcMAC: a, dstMAC: b, src: Fixture.ipA, dst: Fixture.ipB, protocol: IPProtocol.icmp,
                                    payload: [3, 1])            // 2 bytes of ICMP, then padding
        #expect(frame.count == 60)
        #expect(dropReason(frame) == .truncatedL4)
        let other = try #require(parsed(FrameBuilder.ethernet(dst: b, src: a, etherType: 0x88B5, payload: [], pad: false)))
        #expect(other.l3 == .other && other.length == 14 && other.l3Offset == 14)
    }

    @Test("IPv4 checksum verification can be turned off")
    func checksumOption() {
        var frame = FrameBuilder.udp(srcMAC: a, dstMAC: b, src: Fixture.ipA, dst: Fixture.ipB, srcPort: 1, dstPort: 2)
        frame[24] ^= 0xFF
        #expect(dropReason(frame) == .badIPv4Checksum)
        #expect(parsed(frame, options: ParserOptions(verifyIPv4Checksum: false)) != nil)
    }

    @Test("A reused frame is fully reset by each parse")
    func reuse() throws {
        let vxlan = FrameBuilder.vxlan(outerSrcMAC: b, outerDstMAC: a, vlan: [.stag(1), .ctag(2)], outerSrc: Fixture.ipA,
                                       outerDst: Fixture.ipB, srcPort: 1, vni: 3,
                                       inner: FrameBuilder.arpRequest(srcMAC: a, senderIP: Fixture.ipA, targetIP: Fixture.ipB))
        let arp = FrameBuilder.arpRequest(srcMAC: a, senderIP: Fixture.ipA, targetIP: Fixture.ipB)
        let ns = FrameBuilder.neighborSolicitation(srcMAC: a, src: Fixture.v6A, target: Fixture.v6B)
        var reused = ParsedFrame()
        for bytes in [vxlan, ns, arp, vxlan, arp, ns, [UInt8](repeating: 0, count: 5)] {
            let drop = FrameParser.parse(bytes, into: &reused)
            var fresh = ParsedFrame()
            #expect(FrameParser.parse(bytes, into: &fresh) == drop)
            #expect(reused == fresh)
        }
    }
}

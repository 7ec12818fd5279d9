import EmulatedASIC
import SwitchDriver
import SwitchModel
import Testing

/// Every malformed case yields its exact drop reason. Each test changes one thing in a
/// well-formed frame (fixing the IPv4 checksum when it touched the header), so the
/// verdict can only come from that change.
@Suite("FrameParser: malformed frames")
struct MalformedFrameTests {
    let a = Fixture.macA, b = Fixture.macB

    func udp4(vlan: [VLANTag] = [], payload: [UInt8] = [], pad: Bool = false) -> [UInt8] {
        FrameBuilder.udp(srcMAC: a, dstMAC: b, vlan: vlan, src: Fixture.ipA, dst: Fixture.ipB, srcPort: 1, dstPort: 2,
                         payload: payload, pad: pad)
    }

    func udp6(payload: [UInt8] = []) -> [UInt8] {
        FrameBuilder.udp(srcMAC: a, dstMAC: b, src: Fixture.v6A, dst: Fixture.v6B, srcPort: 1, dstPort: 2, payload: payload, pad: false)
    }

    /// An IPv4 frame whose total length is set to `ipLength` (checksum fixed).
    func ipv4(protocol proto: UInt8, l4: [UInt8], ipLength: Int? = nil) -> [UInt8] {
        var frame = FrameBuilder.ip(srcMAC: a, dstMAC: b, src: Fixture.ipA, dst: Fixture.ipB, protocol: proto, payload: l4, pad: false)
        if let ipLength {
            write16(&frame, 16, UInt16(ipLength))
            fixIPv4Checksum(&frame)
        }
        return frame
    }

    @Test("Ethernet: shorter than 14 bytes; multicast or zero source MAC")
    func ethernet() {
        let frame = udp4()
        for length in 0..<14 { #expect(dropReason(Array(frame.prefix(length))) == .truncatedEthernet, "length \(length)") }
        var multicast = frame
        multicast[6] |= 0x01
        #expect(dropReason(multicast) == .badSourceMAC)
        let zero = FrameBuilder.ethernet(dst: b, src: .zero, etherType: 0x88B5, payload: [])
        #expect(dropReason(zero) == .badSourceMAC)
        let broadcastDst = FrameBuilder.ethernet(dst: .broadcast, src: a, etherType: 0x88B5, payload: [])
        #expect(dropReason(broadcastDst) == nil)
    }

    @Test("VLAN: a tag needs 4 bytes plus the next EtherType; three tags are too many")
    func vlan() {
        let one = udp4(vlan: [.ctag(1)])
        for length in 14..<18 { #expect(dropReason(Array(one.prefix(length))) == .truncatedVLANTag, "length \(length)") }
        #expect(dropReason(Array(one.prefix(18))) == .truncatedIPv4)
        let two = udp4(vlan: [.stag(1), .ctag(2)])
        for length in 18..<22 { #expect(dropReason(Array(two.prefix(length))) == .truncatedVLANTag, "length \(length)") }
        let three = FrameBuilder.ethernet(dst: b, src: a, vlan: [.stag(1), .ctag(2), .ctag(3)], etherType: 0x0800, payload: [])
        #expect(dropReason(three) == .tooManyVLANTags)
        #expect(dropReason(Array(three.prefix(24))) == .tooManyVLANTags)
    }

    @Test("ARP: fewer than 28 bytes")
    func arp() {
        let frame = FrameBuilder.arpRequest(srcMAC: a, senderIP: Fixture.ipA, targetIP: Fixture.ipB, pad: false)
        for length in 14..<42 { #expect(dropReason(Array(frame.prefix(length))) == .truncatedARP, "length \(length)") }
        #expect(dropReason(frame) == nil)
    }

    @Test("IPv4: truncated header, version, IHL, options past the end")
    func ipv4Header() {
        let frame = udp4()
        for length in 14..<34 { #expect(dropReason(Array(frame.prefix(length))) == .truncatedIPv4, "length \(length)") }

        var version = frame
        version[14] = 0x65
        fixIPv4Checksum(&version)
        #expect(dropReason(version) == .badIPv4Version)

        for ihl: UInt8 in 0..<5 {
            var short = frame
            short[14] = 0x40 | ihl
            #expect(dropReason(short) == .badIPv4HeaderLength, "IHL \(ihl)")
        }

        // IHL 15 (60 bytes) in a frame with 28 bytes of IP.
        var long = frame
        long[14] = 0x4F
        #expect(dropReason(long) == .truncatedIPv4)
    }

    @Test("IPv4: total length below the header or beyond the frame; padding is fine")
    func ipv4TotalLength() {
        for bad in [0, 19, 29, 1000, 0xFFFF] {
            var frame = udp4()
            write16(&frame, 16, UInt16(bad))
            fixIPv4Checksum(&frame)
            #expect(dropReason(frame) == .badIPv4TotalLength, "total length \(bad)")
        }
        // With options: total length 22 < IHL*4 = 24.
        var igmp = FrameBuilder.igmpv2Report(srcMAC: a, src: Fixture.ipA, group: IPAddress("239.0.0.1")!)
        write16(&igmp, 16, 22)
        fixIPv4Checksum(&igmp)
        #expect(dropReason(igmp) == .badIPv4TotalLength)
        #expect(dropReason(udp4(pad: true) + [0, 0, 0]) == nil)
    }

    @Test("IPv4: wrong header checksum")
    func ipv4Checksum() {
        var frame = udp4()
        frame[25] &+= 1                                         // header checksum low byte
        #expect(dropReason(frame) == .badIPv4Checksum)
        var address = udp4()
        address[29] ^= 0x40                                     // source address
        #expect(dropReason(address) == .badIPv4Checksum)
    }

    @Test("IPv6: truncated header, version, payload length, truncated extension headers")
    func ipv6() {
        let frame = udp6()
        for length in 14..<54 { #expect(dropReason(Array(frame.prefix(length))) == .truncatedIPv6, "length \(length)") }

        var version = frame
        version[14] = 0x40
        #expect(dropReason(version) == .badIPv6Version)

        var payload = frame
        write16(&payload, 18, read16(frame, 18) + 1)
        #expect(dropReason(payload) == .badIPv6PayloadLength)

        // A hop-by-hop header claiming 16 bytes in an 8-byte payload.
        let hbh = FrameBuilder.ipv6Packet(src: Fixture.v6A, dst: Fixture.v6B, nextHeader: IPProtocol.noNextHeader, payload: [],
                                          extensionHeaders: [.hopByHop(options: [])])
        let base = FrameBuilder.ethernet(dst: b, src: a, etherType: EtherType.ipv6, payload: hbh, pad: false)
        #expect(dropReason(base) == nil)
        var long = base
        long[55] = 1
        #expect(dropReason(long) == .truncatedIPv6)
        // An extension header that does not fit at all (payload 4 bytes).
        var tiny = base
        write16(&tiny, 18, 4)
        #expect(dropReason(tiny) == .truncatedIPv6)
        // A fragment header cut short.
        let fragment = FrameBuilder.ipv6Packet(src: Fixture.v6A, dst: Fixture.v6B, nextHeader: IPProtocol.udp, payload: [],
                                               extensionHeaders: [.fragment(offset: 1, moreFragments: false, identification: 1)])
        var cut = FrameBuilder.ethernet(dst: b, src: a, etherType: EtherType.ipv6, payload: fragment, pad: false)
        write16(&cut, 18, 7)
        #expect(dropReason(cut) == .truncatedIPv6)
    }

    @Test("UDP: fewer than 8 bytes in the IP payload; length field below 8 or beyond the IP payload")
    func udp() {
        let datagram = FrameBuilder.udpDatagram(src: Fixture.ipA, dst: Fixture.ipB, srcPort: 1, dstPort: 2, payload: [1, 2, 3, 4])
        for ipLength in 20..<28 {
            #expect(dropReason(ipv4(protocol: IPProtocol.udp, l4: datagram, ipLength: ipLength)) == .truncatedL4, "\(ipLength)")
        }
        for bad: UInt16 in [0, 7, 13, 0xFFFF] {
            var frame = udp4(payload: [1, 2, 3, 4])
            write16(&frame, 38, bad)
            #expect(dropReason(frame) == .badUDPLength, "UDP length \(bad)")
        }
        // The IP packet, not the frame, bounds UDP: a length that fits only into the padding lies.
        var padded = udp4(payload: [1], pad: true)
        write16(&padded, 38, 20)
        #expect(dropReason(padded) == .badUDPLength)
        // A UDP length shorter than the IP payload is fine (the rest is trimmed, as udp_rcv does).
        var shorter = udp4(payload: [1, 2, 3, 4])
        write16(&shorter, 38, 8)
        #expect(dropReason(shorter) == nil)

        var v6 = udp6(payload: [1, 2])
        write16(&v6, 58, 11)
        #expect(dropReason(v6) == .badUDPLength)
        #expect(dropReason(Array(udp6().prefix(54 + 7))) == .badIPv6PayloadLength)
    }

    @Test("TCP: fewer than 20 bytes; data offset below 5 or beyond the segment")
    func tcp() {
        let segment = FrameBuilder.tcpSegment(src: Fixture.ipA, dst: Fixture.ipB, srcPort: 1, dstPort: 2)
        for ipLength in 20..<40 {
            #expect(dropReason(ipv4(protocol: IPProtocol.tcp, l4: segment, ipLength: ipLength)) == .truncatedL4, "\(ipLength)")
        }
        for offset: UInt8 in [0, 4, 6, 15] {
            var frame = ipv4(protocol: IPProtocol.tcp, l4: segment)
            frame[46] = offset << 4
            #expect(dropReason(frame) == .truncatedL4, "data offset \(offset)")
        }
        #expect(dropReason(ipv4(protocol: IPProtocol.tcp, l4: segment)) == nil)
    }

    @Test("ICMP, ICMPv6, IGMP and NS/NA below their minimum sizes")
    func smallMessages() {
        for length in 0..<4 {
            #expect(dropReason(ipv4(protocol: IPProtocol.icmp, l4: [8, 0, 0, 0], ipLength: 20 + length)) == .truncatedL4)
        }
        for length in 0..<8 {
            #expect(dropReason(ipv4(protocol: IPProtocol.igmp, l4: [0x16, 0, 0, 0, 0, 0, 0, 0], ipLength: 20 + length)) == .truncatedL4)
        }
        #expect(dropReason(ipv4(protocol: IPProtocol.igmp, l4: [0x16, 0, 0, 0, 0, 0, 0, 0])) == nil)

        let ns = FrameBuilder.neighborSolicitation(srcMAC: a, src: Fixture.v6A, target: Fixture.v6B, pad: false)
        for length in 0..<24 {
            var frame = ns
            write16(&frame, 18, UInt16(length))
            #expect(dropReason(frame) == .truncatedL4, "ICMPv6 length \(length)")
        }
        var na = FrameBuilder.neighborAdvertisement(srcMAC: a, src: Fixture.v6A, target: Fixture.v6A, solicited: false, pad: false)
        write16(&na, 18, 23)
        #expect(dropReason(na) == .truncatedL4)
        // Other ND messages have no target and need only the 4-byte ICMPv6 header.
        let rs = FrameBuilder.ethernet(dst: b, src: a, etherType: EtherType.ipv6,
                                       payload: FrameBuilder.ipv6Packet(src: Fixture.v6A, dst: Fixture.v6B, nextHeader: IPProtocol.icmpv6,
                                                                        payload: [133, 0, 0, 0]))
        #expect(parsed(rs)?.isNeighborDiscovery == true)
    }

    @Test("VXLAN: a datagram to the VXLAN port shorter than the header plus an inner Ethernet header, or with the I flag clear, is plain UDP (bridged and routed as the kernel does)")
    func vxlan() {
        func build(innerLength: Int) -> [UInt8] {
            FrameBuilder.vxlan(outerSrcMAC: b, outerDstMAC: a, outerSrc: Fixture.ipA, outerDst: Fixture.ipB, srcPort: 1, vni: 9,
                               inner: Array(FrameBuilder.ethernet(dst: b, src: a, etherType: 0x88B5, payload: [], pad: false)
                                   .prefix(innerLength)))
        }
        for length in 0..<14 {
            let pf = parsed(build(innerLength: length))
            #expect(pf != nil && pf?.isVXLAN == false && pf?.dstPort == 4789, "inner \(length)")
        }
        #expect(parsed(build(innerLength: 14))?.isVXLAN == true)

        var flags = build(innerLength: 14)
        flags[42] = 0x00
        #expect(parsed(flags)?.isVXLAN == false)
        flags[42] = 0xF7                                        // everything but I
        #expect(parsed(flags)?.isVXLAN == false)
        flags[42] = 0x0C                                        // I plus a reserved bit: accepted (RFC 7348 says ignore)
        #expect(parsed(flags)?.isVXLAN == true)
    }
}

import SwitchDriver

/// Settings of the parser that a real chip keeps in registers.
public struct ParserOptions: Hashable, Sendable {
    /// The UDP destination port that marks VXLAN (the kernel's `vxlan dstport`); 0 turns
    /// VXLAN recognition off (port 0 is reserved and never a valid destination).
    public var vxlanPort: UInt16 = WellKnownPort.vxlan
    /// Whether an IPv4 header with a wrong checksum is dropped (`ip_rcv_core()` does).
    public var verifyIPv4Checksum: Bool = true

    public init(vxlanPort: UInt16 = WellKnownPort.vxlan, verifyIPv4Checksum: Bool = true) {
        self.vxlanPort = vxlanPort
        self.verifyIPv4Checksum = verifyIPv4Checksum
    }
}

/// The emulated chip's header parser: one pass over an Ethernet frame that fills a
/// ``ParsedFrame`` or names the ``DropReason`` that makes the frame malformed. It is the
/// counterpart of a switch ASIC's parser stage and, in the kernel, of the checks in
/// `eth_type_trans()`, `br_handle_frame()`, `ip_rcv_core()`, `ipv6_rcv()`/`ip6_rcv_core()`,
/// `udp_rcv()` and `vxlan_rcv()`.
///
/// The parser is allocation-free: it reads with unaligned big-endian loads, and it never
/// reads outside the buffer, whatever the bytes say. Lengths inside the frame only ever
/// shrink the region later headers may occupy: L4 is bounded by the IP packet, not by the
/// frame, so Ethernet padding is never taken for protocol data.
public enum FrameParser {
    /// At most this many IPv6 extension headers are walked; a packet with more is kept with
    /// ``ParsedFrame/ipProtocol`` naming the next unwalked header and no L4 fields (like
    /// a chip's parser, whose depth is fixed).
    public static let maxIPv6ExtensionHeaders = 8

    /// Parses `bytes` into `frame`; returns nil on success or the reason the frame must be
    /// dropped.
    ///
    /// Every field of `frame` is overwritten: fields the frame does not have are zero. On a
    /// drop, the fields parsed before the failing check keep their values (``ParsedFrame/length``,
    /// the MACs and VLAN tags, for instance) and the rest are zero.
    ///
    /// Checks, in order: the Ethernet header (14 bytes, unicast non-zero source MAC, as
    /// `is_valid_ether_addr()`); up to two VLAN tags; then ARP, IPv4 or IPv6 with their L4
    /// headers; then VXLAN (RFC 7348 §5) on the configured UDP port. The inner frame of a
    /// VXLAN packet is not parsed; call the parser again on the bytes from
    /// ``ParsedFrame/innerOffset``.
    @inlinable
    public static func parse(_ bytes: UnsafeRawBufferPointer, into frame: inout ParsedFrame, options: ParserOptions) -> DropReason? {
        frame = ParsedFrame()
        let count = bytes.count
        frame.length = count
        guard count >= 14 else { return .truncatedEthernet }

        // `struct ethhdr`: h_dest[6], h_source[6], h_proto.
        frame.dst = be64(bytes, 0) >> 16
        let src = be64(bytes, 6) >> 16
        frame.src = src
        guard src & 0x0100_0000_0000 == 0, src != 0 else { return .badSourceMAC }

        // IEEE 802.1Q §9.6 tags: TPID, then TCI = PCP(3) DEI(1) VID(12).
        var offset = 12
        var type = be16(bytes, 12)
        while EtherType.isVLANTPID(type) {
            guard frame.tagCount < 2 else { return .tooManyVLANTags }
            guard offset &+ 6 <= count else { return .truncatedVLANTag }
            let tci = be16(bytes, offset &+ 2)
            if frame.tagCount == 0 {
                frame.outerTPID = type
                frame.outerVID = tci & 0x0FFF
                frame.outerPCP = UInt8(truncatingIfNeeded: tci >> 13)
            } else {
                frame.innerTPID = type
                frame.innerVID = tci & 0x0FFF
            }
            frame.tagCount &+= 1
            offset &+= 4
            type = be16(bytes, offset)
        }
        frame.etherType = type
        let l3 = offset &+ 2
        frame.l3Offset = l3

        switch type {
        case EtherType.ipv4: return parseIPv4(bytes, at: l3, into: &frame, options: options)
        case EtherType.ipv6: return parseIPv6(bytes, at: l3, into: &frame, options: options)
        case EtherType.arp: return parseARP(bytes, at: l3, into: &frame)
        default:
            frame.l3 = .other
            return nil
        }
    }

    /// Parses an array; for tests and tools. Exactly one of the results is non-nil.
    public static func parse(_ bytes: [UInt8], options: ParserOptions = ParserOptions()) -> (frame: ParsedFrame?, drop: DropReason?) {
        var frame = ParsedFrame()
        let drop = parse(bytes, into: &frame, options: options)
        return drop == nil ? (frame, nil) : (nil, drop)
    }

    /// Parses an array into `frame`, keeping the partially parsed fields on a drop.
    public static func parse(_ bytes: [UInt8], into frame: inout ParsedFrame, options: ParserOptions = ParserOptions()) -> DropReason? {
        bytes.withUnsafeBytes { parse($0, into: &frame, options: options) }
    }

    // MARK: - ARP

    /// ARP for Ethernet/IPv4 (RFC 826, `struct arphdr`): hardware type 1, protocol 0x0800,
    /// hlen 6, plen 4, 28 bytes in all. Other ARP flavours are `.other`.
    @usableFromInline @inline(__always)
    static func parseARP(_ bytes: UnsafeRawBufferPointer, at l3: Int, into frame: inout ParsedFrame) -> DropReason? {
        let available = bytes.count &- l3
        guard available >= 8 else { return .truncatedARP }
        // ar_hrd (1 = Ethernet), ar_pro (0x0800), ar_hln (6), ar_pln (4).
        guard be32(bytes, l3) == 0x0001_0800, be16(bytes, l3 &+ 4) == 0x0604 else {
            frame.l3 = .other
            return nil
        }
        frame.l3 = .arp
        guard available >= 28 else { return .truncatedARP }
        frame.arpOperation = be16(bytes, l3 &+ 6)
        frame.arpSenderMAC = be64(bytes, l3 &+ 6) & 0xFFFF_FFFF_FFFF
        frame.arpSenderIP = be32(bytes, l3 &+ 14)
        frame.arpTargetMAC = be64(bytes, l3 &+ 16) & 0xFFFF_FFFF_FFFF
        frame.arpTargetIP = be32(bytes, l3 &+ 24)
        return nil
    }

    // MARK: - IPv4

    /// IPv4 (RFC 791, `struct iphdr`) with the checks of `ip_rcv_core()`.
    @usableFromInline @inline(__always)
    static func parseIPv4(_ bytes: UnsafeRawBufferPointer, at l3: Int, into frame: inout ParsedFrame,
                          options: ParserOptions) -> DropReason? {
        frame.l3 = .ipv4
        let available = bytes.count &- l3
        guard available >= 20 else { return .truncatedIPv4 }
        let versionIHL = bytes[l3]
        guard versionIHL >> 4 == 4 else { return .badIPv4Version }
        let headerLength = Int(versionIHL & 0x0F) &* 4
        guard headerLength >= 20 else { return .badIPv4HeaderLength }
        guard headerLength <= available else { return .truncatedIPv4 }
        let totalLength = Int(be16(bytes, l3 &+ 2))
        guard totalLength >= headerLength, totalLength <= available else { return .badIPv4TotalLength }
        if options.verifyIPv4Checksum {
            guard InternetChecksum.verifyIPv4Header(bytes, offset: l3, length: headerLength) else { return .badIPv4Checksum }
        }

        frame.tos = bytes[l3 &+ 1]
        let fragmentField = be16(bytes, l3 &+ 6)                // flags(3) fragment offset(13)
        frame.ttl = bytes[l3 &+ 8]
        let proto = bytes[l3 &+ 9]
        frame.ipProtocol = proto
        frame.ipv4Src = be32(bytes, l3 &+ 12)
        frame.ipv4Dst = be32(bytes, l3 &+ 16)
        frame.ipHeaderLength = headerLength
        frame.ipTotalLength = totalLength
        frame.hasIPOptions = headerLength > 20
        let l4 = l3 &+ headerLength
        frame.l4Offset = l4
        frame.hasMoreFragments = fragmentField & 0x2000 != 0
        frame.isIGMP = proto == IPProtocol.igmp
        if fragmentField & 0x1FFF != 0 {
            frame.isFragment = true
            return nil
        }

        let l4Length = totalLength &- headerLength
        switch proto {
        case IPProtocol.udp:
            return parseUDP(bytes, at: l4, length: l4Length, into: &frame, options: options)
        case IPProtocol.tcp:
            return parseTCP(bytes, at: l4, length: l4Length, into: &frame)
        case IPProtocol.icmp:
            // `struct icmphdr`: type, code, checksum, then type-specific data.
            guard l4Length >= 4 else { return .truncatedL4 }
            frame.icmpType = bytes[l4]
            frame.icmpCode = bytes[l4 &+ 1]
            return nil
        case IPProtocol.igmp:
            // `struct igmphdr` (RFC 2236 §2): type, max resp code, checksum, group — 8 bytes.
            guard l4Length >= 8 else { return .truncatedL4 }
            frame.icmpType = bytes[l4]
            frame.icmpCode = bytes[l4 &+ 1]
            return nil
        default:
            return nil
        }
    }

    // MARK: - IPv6

    /// IPv6 (RFC 8200, `struct ipv6hdr`) with the checks of `ip6_rcv_core()`, then the
    /// hop-by-hop, routing, fragment and destination-options headers (RFC 8200 §4), each
    /// bounds-checked against the payload length.
    @usableFromInline @inline(__always)
    static func parseIPv6(_ bytes: UnsafeRawBufferPointer, at l3: Int, into frame: inout ParsedFrame,
                          options: ParserOptions) -> DropReason? {
        frame.l3 = .ipv6
        let available = bytes.count &- l3
        guard available >= 40 else { return .truncatedIPv6 }
        let first = be32(bytes, l3)                             // version(4) traffic class(8) flow label(20)
        guard first >> 28 == 6 else { return .badIPv6Version }
        let payloadLength = Int(be16(bytes, l3 &+ 4))
        guard 40 &+ payloadLength <= available else { return .badIPv6PayloadLength }

        frame.tos = UInt8(truncatingIfNeeded: first >> 20)
        var next = bytes[l3 &+ 6]
        frame.ttl = bytes[l3 &+ 7]
        frame.ipv6SrcHigh = be64(bytes, l3 &+ 8)
        frame.ipv6SrcLow = be64(bytes, l3 &+ 16)
        frame.ipv6DstHigh = be64(bytes, l3 &+ 24)
        frame.ipv6DstLow = be64(bytes, l3 &+ 32)
        frame.ipTotalLength = 40 &+ payloadLength

        let end = l3 &+ 40 &+ payloadLength
        var offset = l3 &+ 40
        var walked = 0
        while IPProtocol.isWalkedIPv6ExtensionHeader(next), walked < maxIPv6ExtensionHeaders {
            walked &+= 1
            // Every walked header is at least 8 bytes: next header, length, 6 more.
            guard offset &+ 8 <= end else { return .truncatedIPv6 }
            let following = bytes[offset]
            if next == IPProtocol.fragment {
                // RFC 8200 §4.5: next, reserved, offset(13) res(2) M(1), identification.
                let fragmentField = be16(bytes, offset &+ 2)
                frame.hasMoreFragments = fragmentField & 1 != 0
                next = following
                offset &+= 8
                if fragmentField & 0xFFF8 != 0 {
                    frame.isFragment = true
                    break
                }
            } else {
                if next == IPProtocol.hopByHop { frame.hasIPOptions = true }
                let headerLength = (Int(bytes[offset &+ 1]) &+ 1) &* 8  // Hdr Ext Len in 8-octet units, minus one
                guard offset &+ headerLength <= end else { return .truncatedIPv6 }
                next = following
                offset &+= headerLength
            }
        }
        frame.ipProtocol = next
        frame.ipHeaderLength = offset &- l3
        frame.l4Offset = offset
        if frame.isFragment { return nil }

        let l4Length = end &- offset
        switch next {
        case IPProtocol.udp:
            return parseUDP(bytes, at: offset, length: l4Length, into: &frame, options: options)
        case IPProtocol.tcp:
            return parseTCP(bytes, at: offset, length: l4Length, into: &frame)
        case IPProtocol.icmpv6:
            return parseICMPv6(bytes, at: offset, length: l4Length, into: &frame)
        default:
            return nil
        }
    }

    /// ICMPv6 (RFC 4443 §2.1, `struct icmp6hdr`): type, code, checksum. MLD (RFC 2710,
    /// RFC 3810) and Neighbor Discovery (RFC 4861 §4) are flagged; for NS and NA the
    /// target address at offset 8 is read (`struct nd_msg`).
    @usableFromInline @inline(__always)
    static func parseICMPv6(_ bytes: UnsafeRawBufferPointer, at l4: Int, length: Int, into frame: inout ParsedFrame) -> DropReason? {
        guard length >= 4 else { return .truncatedL4 }
        let type = bytes[l4]
        frame.icmpType = type
        frame.icmpCode = bytes[l4 &+ 1]
        if ICMPv6Type.isMLD(type) {
            frame.isMLD = true
        } else if ICMPv6Type.isNeighborDiscovery(type) {
            frame.isNeighborDiscovery = true
            if type == ICMPv6Type.neighborSolicitation || type == ICMPv6Type.neighborAdvertisement {
                guard length >= 24 else { return .truncatedL4 }
                frame.ndTargetHigh = be64(bytes, l4 &+ 8)
                frame.ndTargetLow = be64(bytes, l4 &+ 16)
            }
        }
        return nil
    }

    // MARK: - UDP, TCP, VXLAN

    /// UDP (RFC 768, `struct udphdr`) with the length checks of `udp_rcv()`, then VXLAN
    /// (RFC 7348 §5) when the destination port is ``ParserOptions/vxlanPort``. `length` is
    /// what the IP header says is left, not what the frame holds.
    @usableFromInline @inline(__always)
    static func parseUDP(_ bytes: UnsafeRawBufferPointer, at l4: Int, length: Int, into frame: inout ParsedFrame,
                         options: ParserOptions) -> DropReason? {
        guard length >= 8 else { return .truncatedL4 }
        frame.srcPort = be16(bytes, l4)
        let dstPort = be16(bytes, l4 &+ 2)
        frame.dstPort = dstPort
        let udpLength = Int(be16(bytes, l4 &+ 4))
        guard udpLength >= 8 else { return .badUDPLength }
        // A first fragment carries only the start of the datagram: its UDP length may be
        // larger than the fragment, and it cannot be decapsulated.
        if frame.hasMoreFragments { return nil }
        guard udpLength <= length else { return .badUDPLength }

        guard dstPort == options.vxlanPort, dstPort != 0 else { return nil }
        // VXLAN header (8 bytes): flags(8, I = 0x08) reserved(24) VNI(24) reserved(8),
        // followed by at least an inner Ethernet header. A datagram to the port that is not
        // one is plain UDP: bridged or routed like any other (the kernel's bridge and router
        // look no deeper), and to one of our VTEPs it reaches the CPU as a local address,
        // where the kernel's vxlan_rcv drops it.
        guard udpLength >= 8 &+ 8 &+ 14, bytes[l4 &+ 8] & 0x08 != 0 else { return nil }
        frame.isVXLAN = true
        frame.vxlanVNI = be32(bytes, l4 &+ 12) >> 8
        frame.innerOffset = l4 &+ 16
        return nil
    }

    /// TCP (RFC 9293 §3.1, `struct tcphdr`): ports, data offset (≥ 5 words and within the
    /// segment, as `tcp_v4_rcv()` checks) and flags.
    @usableFromInline @inline(__always)
    static func parseTCP(_ bytes: UnsafeRawBufferPointer, at l4: Int, length: Int, into frame: inout ParsedFrame) -> DropReason? {
        guard length >= 20 else { return .truncatedL4 }
        frame.srcPort = be16(bytes, l4)
        frame.dstPort = be16(bytes, l4 &+ 2)
        let dataOffset = Int(bytes[l4 &+ 12] >> 4) &* 4
        guard dataOffset >= 20, dataOffset <= length else { return .truncatedL4 }
        frame.tcpFlags = bytes[l4 &+ 13]
        return nil
    }
}

extension FrameParser {
    /// The big-endian 16-bit value at `offset`, unaligned. Bounds are checked by the caller
    /// (and by the standard library in debug builds).
    @usableFromInline @inline(__always)
    static func be16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
        UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// The big-endian 32-bit value at `offset`, unaligned.
    @usableFromInline @inline(__always)
    static func be32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// The big-endian 64-bit value at `offset`, unaligned.
    @usableFromInline @inline(__always)
    static func be64(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}

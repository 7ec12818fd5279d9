import SwitchModel

/// A VLAN tag to insert after the source MAC (IEEE 802.1Q §9.6, `struct vlan_hdr`).
public struct VLANTag: Hashable, Sendable {
    /// Tag protocol identifier: 0x8100 (C-tag), 0x88A8 (S-tag) or 0x9100; any value is
    /// written as given.
    public var tpid: UInt16
    /// VLAN ID, 0…4095.
    public var vid: UInt16
    /// Priority code point, 0…7.
    public var pcp: UInt8
    /// Drop eligible indicator.
    public var dei: Bool

    public init(vid: UInt16, pcp: UInt8 = 0, dei: Bool = false, tpid: UInt16 = EtherType.vlan8021Q) {
        precondition(vid <= 0x0FFF, "VLAN ID wider than 12 bits")
        precondition(pcp <= 7, "PCP wider than 3 bits")
        self.tpid = tpid
        self.vid = vid
        self.pcp = pcp
        self.dei = dei
    }

    /// An 802.1Q customer tag (TPID 0x8100).
    public static func ctag(_ vid: UInt16, pcp: UInt8 = 0) -> VLANTag { VLANTag(vid: vid, pcp: pcp) }
    /// An 802.1ad service tag (TPID 0x88A8).
    public static func stag(_ vid: UInt16, pcp: UInt8 = 0) -> VLANTag {
        VLANTag(vid: vid, pcp: pcp, tpid: EtherType.vlan8021AD)
    }

    /// The tag control information: PCP(3) DEI(1) VID(12).
    public var tci: UInt16 { UInt16(pcp) << 13 | (dei ? 0x1000 : 0) | vid }
}

/// TCP header flags (RFC 9293 §3.1, the low byte of `tcp_flag_word()`).
public struct TCPFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
    public static let urg = TCPFlags(rawValue: 0x20)
    public static let ece = TCPFlags(rawValue: 0x40)
    public static let cwr = TCPFlags(rawValue: 0x80)
}

/// An IPv6 extension header (RFC 8200 §4) for `FrameBuilder.ipv6Packet(…)`.
public enum IPv6ExtensionHeader: Hashable, Sendable {
    /// Hop-by-hop options (§4.3): the option TLVs, padded with Pad1/PadN to a multiple of 8.
    case hopByHop(options: [UInt8])
    /// Destination options (§4.6), padded like hop-by-hop.
    case destinationOptions(options: [UInt8])
    /// A routing header (§4.4): routing type, segments left, type-specific data padded with zeros.
    case routing(type: UInt8, segmentsLeft: UInt8, data: [UInt8])
    /// A fragment header (§4.5): offset in 8-octet units, M flag, identification.
    case fragment(offset: UInt16, moreFragments: Bool, identification: UInt32)

    /// The header's protocol number.
    public var protocolNumber: UInt8 {
        switch self {
        case .hopByHop: IPProtocol.hopByHop
        case .destinationOptions: IPProtocol.destinationOptions
        case .routing: IPProtocol.routing
        case .fragment: IPProtocol.fragment
        }
    }
}

/// Builds well-formed frames, byte for byte as the RFCs lay them out, with correct lengths
/// and checksums: the traffic source of tests, benchmarks and end-to-end runs. Frames are
/// `[UInt8]` without the FCS. Frame builders take `MACAddress`/`IPAddress`, choose IPv4 or
/// IPv6 from the address family, and pad to the 60-byte Ethernet minimum unless
/// `pad: false` (as a NIC's driver does, `eth_skb_pad()`).
///
/// Misuse (addresses of different families, over-long payloads) is a programmer error
/// and traps.
public enum FrameBuilder {
    /// The minimum Ethernet frame without FCS (`ETH_ZLEN`).
    public static let minimumFrameLength = 60
    /// The TTL/hop limit builders use unless told otherwise (the kernel's default, 64).
    public static let defaultTTL: UInt8 = 64

    // MARK: - Ethernet

    /// An Ethernet II frame (`struct ethhdr`) with `vlan` tags in order, outermost first.
    /// Any number of tags may be given (the parser accepts two), so malformed stacks can be built.
    public static func ethernet(dst: MACAddress, src: MACAddress, vlan: [VLANTag] = [], etherType: UInt16,
                                payload: [UInt8], pad: Bool = true) -> [UInt8] {
        var frame: [UInt8] = []
        frame.reserveCapacity(max(14 + 4 * vlan.count + payload.count, minimumFrameLength))
        putMAC(&frame, dst)
        putMAC(&frame, src)
        for tag in vlan {
            put16(&frame, tag.tpid)
            put16(&frame, tag.tci)
        }
        put16(&frame, etherType)
        frame.append(contentsOf: payload)
        if pad && frame.count < minimumFrameLength {
            frame.append(contentsOf: repeatElement(0, count: minimumFrameLength - frame.count))
        }
        return frame
    }

    // MARK: - IP

    /// An IPv4 packet (RFC 791 §3.1, `struct iphdr`) with a correct header checksum.
    /// `options` must be a multiple of 4 bytes, at most 40; `fragmentOffset` is in 8-octet units.
    public static func ipv4Packet(src: IPAddress, dst: IPAddress, protocol proto: UInt8, payload: [UInt8],
                                  ttl: UInt8 = defaultTTL, tos: UInt8 = 0, identification: UInt16 = 0,
                                  dontFragment: Bool = false, moreFragments: Bool = false, fragmentOffset: UInt16 = 0,
                                  options: [UInt8] = []) -> [UInt8] {
        precondition(src.isIPv4 && dst.isIPv4, "IPv4 packet with an IPv6 address")
        precondition(options.count % 4 == 0 && options.count <= 40, "IPv4 options must be 4-byte words, at most 40 bytes")
        precondition(fragmentOffset <= 0x1FFF, "fragment offset wider than 13 bits")
        let headerLength = 20 + options.count
        let totalLength = headerLength + payload.count
        precondition(totalLength <= 0xFFFF, "IPv4 packet longer than 65535 bytes")
        var packet: [UInt8] = []
        packet.reserveCapacity(totalLength)
        packet.append(0x40 | UInt8(headerLength / 4))
        packet.append(tos)
        put16(&packet, UInt16(totalLength))
        put16(&packet, identification)
        put16(&packet, (dontFragment ? 0x4000 : 0) | (moreFragments ? 0x2000 : 0) | fragmentOffset)
        packet.append(ttl)
        packet.append(proto)
        put16(&packet, 0)                                       // checksum, filled below
        putIP(&packet, src)
        putIP(&packet, dst)
        packet.append(contentsOf: options)
        set16(&packet, InternetChecksum.checksum(packet, range: 0..<headerLength), at: 10)
        packet.append(contentsOf: payload)
        return packet
    }

    /// An IPv6 packet (RFC 8200 §3, `struct ipv6hdr`) with the given extension headers in
    /// order; `nextHeader` is the protocol after the last of them.
    public static func ipv6Packet(src: IPAddress, dst: IPAddress, nextHeader: UInt8, payload: [UInt8],
                                  hopLimit: UInt8 = defaultTTL, trafficClass: UInt8 = 0, flowLabel: UInt32 = 0,
                                  extensionHeaders: [IPv6ExtensionHeader] = []) -> [UInt8] {
        precondition(!src.isIPv4 && !dst.isIPv4, "IPv6 packet with an IPv4 address")
        precondition(flowLabel <= 0xF_FFFF, "flow label wider than 20 bits")
        var extensions: [UInt8] = []
        for (i, header) in extensionHeaders.enumerated() {
            let next = i + 1 < extensionHeaders.count ? extensionHeaders[i + 1].protocolNumber : nextHeader
            extensions.append(contentsOf: encode(header, next: next))
        }
        let payloadLength = extensions.count + payload.count
        precondition(payloadLength <= 0xFFFF, "IPv6 payload longer than 65535 bytes")
        var packet: [UInt8] = []
        packet.reserveCapacity(40 + payloadLength)
        put32(&packet, 0x6000_0000 | UInt32(trafficClass) << 20 | flowLabel)
        put16(&packet, UInt16(payloadLength))
        packet.append(extensionHeaders.first?.protocolNumber ?? nextHeader)
        packet.append(hopLimit)
        putIP(&packet, src)
        putIP(&packet, dst)
        packet.append(contentsOf: extensions)
        packet.append(contentsOf: payload)
        return packet
    }

    /// One extension header's bytes.
    static func encode(_ header: IPv6ExtensionHeader, next: UInt8) -> [UInt8] {
        switch header {
        case .hopByHop(let options), .destinationOptions(let options):
            var bytes: [UInt8] = [next, 0] + options
            let padding = (8 - bytes.count % 8) % 8
            if padding == 1 {
                bytes.append(0)                                 // Pad1
            } else if padding > 1 {
                bytes.append(1)                                 // PadN
                bytes.append(UInt8(padding - 2))
                bytes.append(contentsOf: repeatElement(0, count: padding - 2))
            }
            precondition(bytes.count <= 2048, "extension header too long")
            bytes[1] = UInt8(bytes.count / 8 - 1)
            return bytes
        case .routing(let type, let segmentsLeft, let data):
            var bytes: [UInt8] = [next, 0, type, segmentsLeft] + data
            bytes.append(contentsOf: repeatElement(0, count: (8 - bytes.count % 8) % 8))
            precondition(bytes.count <= 2048, "extension header too long")
            bytes[1] = UInt8(bytes.count / 8 - 1)
            return bytes
        case .fragment(let offset, let more, let identification):
            precondition(offset <= 0x1FFF, "fragment offset wider than 13 bits")
            var bytes: [UInt8] = [next, 0]
            put16(&bytes, offset << 3 | (more ? 1 : 0))
            put32(&bytes, identification)
            return bytes
        }
    }

    /// An IPv4 or IPv6 packet, by the addresses' family. IPv4 `options` are IPv4 options;
    /// for IPv6 a non-empty `options` becomes a hop-by-hop header.
    public static func ipPacket(src: IPAddress, dst: IPAddress, protocol proto: UInt8, payload: [UInt8],
                                ttl: UInt8 = defaultTTL, dontFragment: Bool = false, options: [UInt8] = []) -> [UInt8] {
        precondition(src.isIPv4 == dst.isIPv4, "source and destination of different families")
        if src.isIPv4 {
            return ipv4Packet(src: src, dst: dst, protocol: proto, payload: payload, ttl: ttl,
                              dontFragment: dontFragment, options: options)
        }
        return ipv6Packet(src: src, dst: dst, nextHeader: proto, payload: payload, hopLimit: ttl,
                          extensionHeaders: options.isEmpty ? [] : [.hopByHop(options: options)])
    }

    /// The EtherType for an address's family.
    static func etherType(for address: IPAddress) -> UInt16 { address.isIPv4 ? EtherType.ipv4 : EtherType.ipv6 }

    // MARK: - L4

    /// A UDP datagram (RFC 768, `struct udphdr`) with its pseudo-header checksum. With
    /// `checksum: false` the field is 0 ("no checksum", allowed for IPv4 only by RFC 768;
    /// over IPv6 only for tunnels, RFC 6935).
    public static func udpDatagram(src: IPAddress, dst: IPAddress, srcPort: UInt16, dstPort: UInt16,
                                   payload: [UInt8], checksum: Bool = true) -> [UInt8] {
        let length = 8 + payload.count
        precondition(length <= 0xFFFF, "UDP datagram longer than 65535 bytes")
        var datagram: [UInt8] = []
        datagram.reserveCapacity(length)
        put16(&datagram, srcPort)
        put16(&datagram, dstPort)
        put16(&datagram, UInt16(length))
        put16(&datagram, 0)
        datagram.append(contentsOf: payload)
        if checksum {
            let sum = InternetChecksum.transportChecksum(source: src, destination: dst, protocol: IPProtocol.udp, segment: datagram)
            set16(&datagram, sum == 0 ? 0xFFFF : sum, at: 6)    // RFC 768: a computed 0 is sent as all ones
        }
        return datagram
    }

    /// A TCP segment (RFC 9293 §3.1, `struct tcphdr`) with its pseudo-header checksum.
    /// `options` is padded with zeros (EOL) to a multiple of 4 bytes, at most 40.
    public static func tcpSegment(src: IPAddress, dst: IPAddress, srcPort: UInt16, dstPort: UInt16,
                                  sequence: UInt32 = 0, acknowledgment: UInt32 = 0, flags: TCPFlags = [.ack],
                                  window: UInt16 = 65535, options: [UInt8] = [], payload: [UInt8] = []) -> [UInt8] {
        let paddedOptions = options + repeatElement(0, count: (4 - options.count % 4) % 4)
        precondition(paddedOptions.count <= 40, "TCP options longer than 40 bytes")
        let headerLength = 20 + paddedOptions.count
        var segment: [UInt8] = []
        segment.reserveCapacity(headerLength + payload.count)
        put16(&segment, srcPort)
        put16(&segment, dstPort)
        put32(&segment, sequence)
        put32(&segment, acknowledgment)
        segment.append(UInt8(headerLength / 4) << 4)
        segment.append(flags.rawValue)
        put16(&segment, window)
        put16(&segment, 0)                                      // checksum
        put16(&segment, 0)                                      // urgent pointer
        segment.append(contentsOf: paddedOptions)
        segment.append(contentsOf: payload)
        set16(&segment, InternetChecksum.transportChecksum(source: src, destination: dst, protocol: IPProtocol.tcp, segment: segment),
                    at: 16)
        return segment
    }

    /// An ICMP message (RFC 792) with its checksum over the message alone.
    public static func icmpMessage(type: UInt8, code: UInt8, body: [UInt8]) -> [UInt8] {
        var message: [UInt8] = [type, code, 0, 0] + body
        set16(&message, InternetChecksum.checksum(message), at: 2)
        return message
    }

    /// An ICMPv6 message (RFC 4443 §2.1) with its checksum over the IPv6 pseudo-header.
    public static func icmpv6Message(src: IPAddress, dst: IPAddress, type: UInt8, code: UInt8, body: [UInt8]) -> [UInt8] {
        var message: [UInt8] = [type, code, 0, 0] + body
        set16(&message, InternetChecksum.transportChecksum(source: src, destination: dst, protocol: IPProtocol.icmpv6, segment: message),
                    at: 2)
        return message
    }

    // MARK: - Frames

    /// An IPv4 or IPv6 frame carrying `payload` as protocol `proto`.
    public static func ip(srcMAC: MACAddress, dstMAC: MACAddress, vlan: [VLANTag] = [], src: IPAddress, dst: IPAddress,
                          protocol proto: UInt8, payload: [UInt8], ttl: UInt8 = defaultTTL, dontFragment: Bool = false,
                          options: [UInt8] = [], pad: Bool = true) -> [UInt8] {
        ethernet(dst: dstMAC, src: srcMAC, vlan: vlan, etherType: etherType(for: src),
                 payload: ipPacket(src: src, dst: dst, protocol: proto, payload: payload, ttl: ttl,
                                   dontFragment: dontFragment, options: options),
                 pad: pad)
    }

    /// A UDP frame over IPv4 or IPv6.
    public static func udp(srcMAC: MACAddress, dstMAC: MACAddress, vlan: [VLANTag] = [], src: IPAddress, dst: IPAddress,
                           srcPort: UInt16, dstPort: UInt16, payload: [UInt8] = [], ttl: UInt8 = defaultTTL,
                           pad: Bool = true) -> [UInt8] {
        ip(srcMAC: srcMAC, dstMAC: dstMAC, vlan: vlan, src: src, dst: dst, protocol: IPProtocol.udp,
           payload: udpDatagram(src: src, dst: dst, srcPort: srcPort, dstPort: dstPort, payload: payload),
           ttl: ttl, pad: pad)
    }

    /// A TCP frame over IPv4 or IPv6.
    public static func tcp(srcMAC: MACAddress, dstMAC: MACAddress, vlan: [VLANTag] = [], src: IPAddress, dst: IPAddress,
                           srcPort: UInt16, dstPort: UInt16, flags: TCPFlags = [.syn], sequence: UInt32 = 0,
                           acknowledgment: UInt32 = 0, payload: [UInt8] = [], ttl: UInt8 = defaultTTL,
                           pad: Bool = true) -> [UInt8] {
        ip(srcMAC: srcMAC, dstMAC: dstMAC, vlan: vlan, src: src, dst: dst, protocol: IPProtocol.tcp,
           payload: tcpSegment(src: src, dst: dst, srcPort: srcPort, dstPort: dstPort, sequence: sequence,
                               acknowledgment: acknowledgment, flags: flags, payload: payload),
           ttl: ttl, pad: pad)
    }

    /// An echo request or reply: ICMP 8/0 (RFC 792) over IPv4, ICMPv6 128/129 (RFC 4443 §4)
    /// over IPv6. Body: identifier, sequence number, data.
    public static func icmpEcho(srcMAC: MACAddress, dstMAC: MACAddress, vlan: [VLANTag] = [], src: IPAddress,
                                dst: IPAddress, reply: Bool = false, identifier: UInt16 = 1, sequence: UInt16 = 1,
                                payload: [UInt8] = [], ttl: UInt8 = defaultTTL, pad: Bool = true) -> [UInt8] {
        var body: [UInt8] = []
        put16(&body, identifier)
        put16(&body, sequence)
        body.append(contentsOf: payload)
        let message = src.isIPv4
            ? icmpMessage(type: reply ? ICMPType.echoReply : ICMPType.echoRequest, code: 0, body: body)
            : icmpv6Message(src: src, dst: dst, type: reply ? ICMPv6Type.echoReply : ICMPv6Type.echoRequest, code: 0, body: body)
        return ip(srcMAC: srcMAC, dstMAC: dstMAC, vlan: vlan, src: src, dst: dst,
                  protocol: src.isIPv4 ? IPProtocol.icmp : IPProtocol.icmpv6, payload: message, ttl: ttl, pad: pad)
    }
}

// MARK: - Byte writing

extension FrameBuilder {
    /// Appends a big-endian 16-bit value.
    static func put16(_ bytes: inout [UInt8], _ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    /// Appends a big-endian 32-bit value.
    static func put32(_ bytes: inout [UInt8], _ value: UInt32) {
        put16(&bytes, UInt16(truncatingIfNeeded: value >> 16))
        put16(&bytes, UInt16(truncatingIfNeeded: value))
    }

    /// Appends a big-endian 64-bit value.
    static func put64(_ bytes: inout [UInt8], _ value: UInt64) {
        put32(&bytes, UInt32(truncatingIfNeeded: value >> 32))
        put32(&bytes, UInt32(truncatingIfNeeded: value))
    }

    /// Appends the six octets of a MAC address.
    static func putMAC(_ bytes: inout [UInt8], _ mac: MACAddress) {
        put16(&bytes, UInt16(truncatingIfNeeded: mac.rawValue >> 32))
        put32(&bytes, UInt32(truncatingIfNeeded: mac.rawValue))
    }

    /// Appends an address: four octets for IPv4, sixteen for IPv6.
    static func putIP(_ bytes: inout [UInt8], _ ip: IPAddress) {
        if ip.isIPv4 {
            put32(&bytes, ip.ipv4Value)
        } else {
            put64(&bytes, ip.high)
            put64(&bytes, ip.low)
        }
    }

    /// Overwrites a big-endian 16-bit value at `offset`.
    static func set16(_ bytes: inout [UInt8], _ value: UInt16, at offset: Int) {
        bytes[offset] = UInt8(truncatingIfNeeded: value >> 8)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: value)
    }
}

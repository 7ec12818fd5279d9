import SwitchModel

extension FrameBuilder {
    /// The 8-byte VXLAN header (RFC 7348 §5): flags with the I bit (0x08), 24 reserved
    /// bits, the 24-bit VNI, 8 reserved bits (`struct vxlanhdr`).
    public static func vxlanHeader(vni: UInt32, flags: UInt8 = 0x08) -> [UInt8] {
        precondition(vni <= 0xFF_FFFF, "VNI wider than 24 bits")
        var header: [UInt8] = [flags, 0, 0, 0]
        put32(&header, vni << 8)
        return header
    }

    /// A VXLAN packet (RFC 7348 §5): outer Ethernet (optionally tagged), IPv4 or IPv6
    /// (by the outer addresses' family), UDP from `srcPort` to `dstPort`, the VXLAN header
    /// and the `inner` Ethernet frame as given (not padded). The UDP checksum is computed,
    /// as the kernel's vxlan sends it by default (`udpcsum`); `udpChecksum: false` gives
    /// RFC 7348's zero checksum over IPv4 (`noudpcsum`). The outer frame is never short
    /// enough to need padding.
    public static func vxlan(outerSrcMAC: MACAddress, outerDstMAC: MACAddress, vlan: [VLANTag] = [],
                             outerSrc: IPAddress, outerDst: IPAddress, srcPort: UInt16,
                             dstPort: UInt16 = WellKnownPort.vxlan, vni: UInt32, inner: [UInt8],
                             ttl: UInt8 = defaultTTL, dontFragment: Bool = false, udpChecksum: Bool = true) -> [UInt8] {
        precondition(outerSrc.isIPv4 == outerDst.isIPv4, "outer addresses of different families")
        let datagram = udpDatagram(src: outerSrc, dst: outerDst, srcPort: srcPort, dstPort: dstPort,
                                   payload: vxlanHeader(vni: vni) + inner, checksum: udpChecksum || !outerSrc.isIPv4)
        let packet = outerSrc.isIPv4
            ? ipv4Packet(src: outerSrc, dst: outerDst, protocol: IPProtocol.udp, payload: datagram, ttl: ttl,
                         dontFragment: dontFragment)
            : ipv6Packet(src: outerSrc, dst: outerDst, nextHeader: IPProtocol.udp, payload: datagram, hopLimit: ttl)
        return ethernet(dst: outerDstMAC, src: outerSrcMAC, vlan: vlan, etherType: etherType(for: outerSrc),
                        payload: packet, pad: false)
    }

    /// The offset of the inner Ethernet header in a packet `vxlan(…)` builds:
    /// Ethernet (14 + 4 per tag) + IP (20 or 40) + UDP (8) + VXLAN (8).
    public static func vxlanInnerOffset(ipv6: Bool = false, tags: Int = 0) -> Int {
        14 + 4 * tags + (ipv6 ? 40 : 20) + 8 + 8
    }
}

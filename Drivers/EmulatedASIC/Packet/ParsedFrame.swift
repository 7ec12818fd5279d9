import SwitchModel

/// The network-layer protocol a parsed frame carries.
public enum L3Kind: UInt8, Hashable, Sendable {
    /// Not parsed yet, or the frame ended before an EtherType.
    case none
    /// ARP for IPv4 over Ethernet (RFC 826).
    case arp
    case ipv4
    case ipv6
    /// Any other EtherType, an 802.3 length field (LLC), or ARP for other hardware.
    case other
}

/// The header fields of one Ethernet frame as the emulated chip's parser extracts them:
/// the chip's packet header vector (the kernel's closest counterpart is the flow
/// dissector's `struct flow_keys`, filled by `skb_flow_dissect()`).
///
/// A frame is a plain value with no references, so the forwarding pipeline keeps one and
/// reuses it for every packet; ``FrameParser`` overwrites every field on each parse.
/// Offsets are byte offsets from the first octet of the destination MAC and are never
/// beyond ``length``. Multi-octet fields are in host order, converted from network order.
public struct ParsedFrame: Hashable, Sendable {
    // MARK: Ethernet (`struct ethhdr`)

    /// Length of the frame in bytes, without the FCS.
    public var length: Int
    /// Destination MAC in `MACAddress.rawValue` layout (low 48 bits, first octet most significant).
    public var dst: UInt64
    /// Source MAC in `MACAddress.rawValue` layout.
    public var src: UInt64

    // MARK: VLAN tags (IEEE 802.1Q §9.6, `struct vlan_hdr`)

    /// The number of VLAN tags before the EtherType: 0, 1 or 2.
    public var tagCount: UInt8
    /// Priority code point (PCP) of the outer tag; 0 when untagged.
    public var outerPCP: UInt8
    /// Tag protocol identifier of the outer tag (0x8100, 0x88A8 or 0x9100); 0 when untagged.
    public var outerTPID: UInt16
    /// VLAN ID (12 bits) of the outer tag; 0 when untagged or priority-tagged.
    public var outerVID: UInt16
    /// Tag protocol identifier of the inner tag; 0 unless ``tagCount`` is 2.
    public var innerTPID: UInt16
    /// VLAN ID (12 bits) of the inner tag; 0 unless ``tagCount`` is 2.
    public var innerVID: UInt16
    /// The EtherType after the tags (`h_proto`), or an 802.3 length when below 0x0600.
    public var etherType: UInt16
    /// Offset of the EtherType's payload (the ARP or IP header).
    public var l3Offset: Int
    /// The network-layer protocol.
    public var l3: L3Kind

    // MARK: ARP (RFC 826, `struct arphdr` + `struct arpreq` layout for Ethernet/IPv4)

    /// `ar_op`: 1 request, 2 reply.
    public var arpOperation: UInt16
    /// Sender protocol (IPv4) address, host order.
    public var arpSenderIP: UInt32
    /// Target protocol (IPv4) address, host order.
    public var arpTargetIP: UInt32
    /// Sender hardware address in `MACAddress.rawValue` layout.
    public var arpSenderMAC: UInt64
    /// Target hardware address in `MACAddress.rawValue` layout.
    public var arpTargetMAC: UInt64

    // MARK: IP (`struct iphdr`, `struct ipv6hdr`)

    /// IPv4 source address, host order (`10.0.0.1` is `0x0A00_0001`).
    public var ipv4Src: UInt32
    /// IPv4 destination address, host order.
    public var ipv4Dst: UInt32
    /// First eight octets of the IPv6 source, same layout as `IPAddress.high`.
    public var ipv6SrcHigh: UInt64
    /// Last eight octets of the IPv6 source, same layout as `IPAddress.low`.
    public var ipv6SrcLow: UInt64
    public var ipv6DstHigh: UInt64
    public var ipv6DstLow: UInt64
    /// The IPv4 protocol, or the IPv6 next header after the hop-by-hop, routing, fragment
    /// and destination-options extension headers.
    public var ipProtocol: UInt8
    /// IPv4 TTL or IPv6 hop limit.
    public var ttl: UInt8
    /// IPv4 DSCP+ECN (`tos`) or IPv6 traffic class.
    public var tos: UInt8
    /// True when the IPv4 header has options (IHL > 5) or the IPv6 packet has a
    /// hop-by-hop options header; such packets take the slow path in a real chip.
    public var hasIPOptions: Bool
    /// True for a non-first fragment (fragment offset ≠ 0): no L4 header, no L4 fields.
    public var isFragment: Bool
    /// True when the IPv4 MF flag or the IPv6 fragment header's M flag is set. A first
    /// fragment (`hasMoreFragments && !isFragment`) has its L4 ports parsed, but its UDP
    /// length may exceed the fragment and it is never treated as VXLAN.
    public var hasMoreFragments: Bool
    /// IPv4 IHL×4, or 40 plus the IPv6 extension headers walked.
    public var ipHeaderLength: Int
    /// The IP total length (IPv4) or 40 + payload length (IPv6): where the IP packet ends,
    /// counted from ``l3Offset``. Ethernet padding after it is not part of the packet.
    public var ipTotalLength: Int

    // MARK: L4 (`struct udphdr`, `struct tcphdr`, `struct icmphdr`, `struct icmp6hdr`, `struct igmphdr`)

    /// Offset just past the IP header(s): the L4 header, or fragment data when ``isFragment``.
    /// 0 for non-IP frames.
    public var l4Offset: Int
    /// UDP or TCP source port; 0 otherwise.
    public var srcPort: UInt16
    /// UDP or TCP destination port; 0 otherwise.
    public var dstPort: UInt16
    /// TCP flags (the low 8 bits of the flags field: CWR ECE URG ACK PSH RST SYN FIN).
    public var tcpFlags: UInt8
    /// ICMP or ICMPv6 type. For IGMP, the IGMP message type (0x11 query, 0x16 v2 report, …).
    public var icmpType: UInt8
    /// ICMP or ICMPv6 code. For IGMP, the max response code.
    public var icmpCode: UInt8
    /// True for IPv4 protocol 2 (IGMP), fragment or not.
    public var isIGMP: Bool
    /// True for ICMPv6 types 130, 131, 132 and 143 (MLD).
    public var isMLD: Bool
    /// True for ICMPv6 types 133 through 137 (Neighbor Discovery).
    public var isNeighborDiscovery: Bool
    /// Target address of a Neighbor Solicitation (135) or Advertisement (136), `IPAddress.high` layout.
    public var ndTargetHigh: UInt64
    /// Target address of a Neighbor Solicitation or Advertisement, `IPAddress.low` layout.
    public var ndTargetLow: UInt64

    // MARK: VXLAN (RFC 7348 §5)

    /// True when the UDP destination port is the configured VXLAN port and the VXLAN header is valid.
    public var isVXLAN: Bool
    /// The 24-bit VXLAN network identifier.
    public var vxlanVNI: UInt32
    /// Offset of the inner Ethernet header (just past the 8-byte VXLAN header).
    public var innerOffset: Int

    /// A frame with every field zero, false or `.none`.
    @inlinable
    public init() {
        length = 0; dst = 0; src = 0
        tagCount = 0; outerPCP = 0; outerTPID = 0; outerVID = 0; innerTPID = 0; innerVID = 0
        etherType = 0; l3Offset = 0; l3 = .none
        arpOperation = 0; arpSenderIP = 0; arpTargetIP = 0; arpSenderMAC = 0; arpTargetMAC = 0
        ipv4Src = 0; ipv4Dst = 0; ipv6SrcHigh = 0; ipv6SrcLow = 0; ipv6DstHigh = 0; ipv6DstLow = 0
        ipProtocol = 0; ttl = 0; tos = 0; hasIPOptions = false; isFragment = false; hasMoreFragments = false
        ipHeaderLength = 0; ipTotalLength = 0
        l4Offset = 0; srcPort = 0; dstPort = 0; tcpFlags = 0; icmpType = 0; icmpCode = 0
        isIGMP = false; isMLD = false; isNeighborDiscovery = false; ndTargetHigh = 0; ndTargetLow = 0
        isVXLAN = false; vxlanVNI = 0; innerOffset = 0
    }
}

extension ParsedFrame {
    /// The destination MAC address.
    public var dstMAC: MACAddress { MACAddress(rawValue: dst & 0xFFFF_FFFF_FFFF) }
    /// The source MAC address.
    public var srcMAC: MACAddress { MACAddress(rawValue: src & 0xFFFF_FFFF_FFFF) }

    /// The IP source address of an IPv4 or IPv6 frame; nil for ARP and non-IP frames.
    public var ipSource: IPAddress? {
        switch l3 {
        case .ipv4: IPAddress(ipv4: ipv4Src)
        case .ipv6: IPAddress(high: ipv6SrcHigh, low: ipv6SrcLow)
        default: nil
        }
    }

    /// The IP destination address of an IPv4 or IPv6 frame; nil for ARP and non-IP frames.
    public var ipDestination: IPAddress? {
        switch l3 {
        case .ipv4: IPAddress(ipv4: ipv4Dst)
        case .ipv6: IPAddress(high: ipv6DstHigh, low: ipv6DstLow)
        default: nil
        }
    }

    /// The Neighbor Discovery target of an NS or NA; nil otherwise.
    public var ndTarget: IPAddress? {
        guard l3 == .ipv6, icmpType == ICMPv6Type.neighborSolicitation || icmpType == ICMPv6Type.neighborAdvertisement,
              isNeighborDiscovery else { return nil }
        return IPAddress(high: ndTargetHigh, low: ndTargetLow)
    }

    /// True when ``etherType`` is an IEEE 802.3 length field: an LLC frame such as an STP BPDU.
    public var isLLC: Bool { etherType < EtherType.minimumEtherType }

    /// True when the frame is an IPv4 or IPv6 packet.
    public var isIP: Bool { l3 == .ipv4 || l3 == .ipv6 }

    /// True when the L4 ports were parsed (a UDP or TCP header that is not in a non-first fragment).
    public var hasPorts: Bool {
        isIP && !isFragment && (ipProtocol == IPProtocol.udp || ipProtocol == IPProtocol.tcp)
    }
}

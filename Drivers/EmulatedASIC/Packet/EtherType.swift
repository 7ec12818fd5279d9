/// EtherType values the emulated chip's parser recognizes (IEEE 802.3 §3.2.6, the IEEE
/// EtherType registry). Values below ``minimumEtherType`` are IEEE 802.3 length fields,
/// which introduce an LLC header (STP BPDUs, for example).
///
/// The kernel counterparts are the `ETH_P_*` constants in `<linux/if_ether.h>`.
public enum EtherType {
    /// The smallest value that is an EtherType rather than an 802.3 length (`ETH_P_802_3_MIN`).
    public static let minimumEtherType: UInt16 = 0x0600
    /// Internet Protocol version 4 (`ETH_P_IP`).
    public static let ipv4: UInt16 = 0x0800
    /// Address Resolution Protocol, RFC 826 (`ETH_P_ARP`).
    public static let arp: UInt16 = 0x0806
    /// Internet Protocol version 6 (`ETH_P_IPV6`).
    public static let ipv6: UInt16 = 0x86DD
    /// IEEE 802.1Q customer VLAN tag, C-tag (`ETH_P_8021Q`).
    public static let vlan8021Q: UInt16 = 0x8100
    /// IEEE 802.1ad service VLAN tag, S-tag (`ETH_P_8021AD`).
    public static let vlan8021AD: UInt16 = 0x88A8
    /// The pre-standard QinQ tag some switches still send (`ETH_P_QINQ1`).
    public static let vlanQinQ9100: UInt16 = 0x9100
    /// Link Layer Discovery Protocol, IEEE 802.1AB (`ETH_P_LLDP`).
    public static let lldp: UInt16 = 0x88CC

    /// True for the three tag protocol identifiers the parser treats as a VLAN tag:
    /// 0x8100, 0x88A8 and 0x9100 (the kernel's `eth_type_vlan()` plus `ETH_P_QINQ1`).
    @inlinable @inline(__always)
    public static func isVLANTPID(_ value: UInt16) -> Bool {
        value == vlan8021Q || value == vlan8021AD || value == vlanQinQ9100
    }
}

/// IP protocol numbers and IPv6 next-header values (the IANA "Assigned Internet Protocol
/// Numbers" registry).
///
/// The kernel counterparts are the `IPPROTO_*` constants in `<linux/in.h>` and `<linux/in6.h>`.
public enum IPProtocol {
    /// IPv6 hop-by-hop options header, RFC 8200 §4.3 (`IPPROTO_HOPOPTS`).
    public static let hopByHop: UInt8 = 0
    /// Internet Control Message Protocol, RFC 792 (`IPPROTO_ICMP`).
    public static let icmp: UInt8 = 1
    /// Internet Group Management Protocol, RFC 2236 / RFC 3376 (`IPPROTO_IGMP`).
    public static let igmp: UInt8 = 2
    /// Transmission Control Protocol, RFC 9293 (`IPPROTO_TCP`).
    public static let tcp: UInt8 = 6
    /// User Datagram Protocol, RFC 768 (`IPPROTO_UDP`).
    public static let udp: UInt8 = 17
    /// IPv6 routing header, RFC 8200 §4.4 (`IPPROTO_ROUTING`).
    public static let routing: UInt8 = 43
    /// IPv6 fragment header, RFC 8200 §4.5 (`IPPROTO_FRAGMENT`).
    public static let fragment: UInt8 = 44
    /// ICMP for IPv6, RFC 4443 (`IPPROTO_ICMPV6`).
    public static let icmpv6: UInt8 = 58
    /// IPv6 "no next header", RFC 8200 §4.7 (`IPPROTO_NONE`).
    public static let noNextHeader: UInt8 = 59
    /// IPv6 destination options header, RFC 8200 §4.6 (`IPPROTO_DSTOPTS`).
    public static let destinationOptions: UInt8 = 60

    /// True for the IPv6 extension headers the parser walks past: hop-by-hop, routing,
    /// fragment and destination options (the kernel's `ipv6_ext_hdr()` without AH and ESP).
    @inlinable @inline(__always)
    public static func isWalkedIPv6ExtensionHeader(_ value: UInt8) -> Bool {
        value == hopByHop || value == routing || value == fragment || value == destinationOptions
    }
}

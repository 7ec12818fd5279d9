/// ICMP message types, RFC 792 (`ICMP_*` in `<linux/icmp.h>`).
public enum ICMPType {
    public static let echoReply: UInt8 = 0
    public static let destinationUnreachable: UInt8 = 3
    public static let echoRequest: UInt8 = 8
    public static let timeExceeded: UInt8 = 11
}

/// ICMPv6 message types, RFC 4443, RFC 4861, RFC 2710 and RFC 3810
/// (`ICMPV6_*`, `NDISC_*` in the kernel).
public enum ICMPv6Type {
    public static let destinationUnreachable: UInt8 = 1
    public static let packetTooBig: UInt8 = 2
    public static let timeExceeded: UInt8 = 3
    public static let echoRequest: UInt8 = 128
    public static let echoReply: UInt8 = 129
    /// Multicast Listener Query (MLDv1 and MLDv2), RFC 2710 §3.6 / RFC 3810 §5.1.
    public static let mldQuery: UInt8 = 130
    /// MLDv1 Multicast Listener Report, RFC 2710.
    public static let mldv1Report: UInt8 = 131
    /// MLDv1 Multicast Listener Done, RFC 2710.
    public static let mldv1Done: UInt8 = 132
    public static let routerSolicitation: UInt8 = 133
    public static let routerAdvertisement: UInt8 = 134
    public static let neighborSolicitation: UInt8 = 135
    public static let neighborAdvertisement: UInt8 = 136
    public static let redirect: UInt8 = 137
    /// MLDv2 Multicast Listener Report, RFC 3810 §5.2.
    public static let mldv2Report: UInt8 = 143

    /// True for the MLD messages a snooping switch must see: 130, 131, 132 and 143.
    @inlinable @inline(__always)
    public static func isMLD(_ type: UInt8) -> Bool {
        type == mldQuery || type == mldv1Report || type == mldv1Done || type == mldv2Report
    }

    /// True for the Neighbor Discovery messages of RFC 4861 §4: 133 through 137.
    @inlinable @inline(__always)
    public static func isNeighborDiscovery(_ type: UInt8) -> Bool {
        type &- routerSolicitation <= redirect - routerSolicitation
    }
}

/// IGMP message types, RFC 2236 §2.1 and RFC 3376 §4 (`IGMP_*` in `<linux/igmp.h>`).
public enum IGMPType {
    /// Membership Query (all versions).
    public static let membershipQuery: UInt8 = 0x11
    public static let v1MembershipReport: UInt8 = 0x12
    public static let v2MembershipReport: UInt8 = 0x16
    public static let v2LeaveGroup: UInt8 = 0x17
    public static let v3MembershipReport: UInt8 = 0x22
}

/// Well-known UDP ports.
public enum WellKnownPort {
    /// The IANA VXLAN port, RFC 7348 §5 (the kernel's `IANA_VXLAN_UDP_PORT`).
    public static let vxlan: UInt16 = 4789
}

/// Why the chip discarded a frame. Each reason has its own counter.
public enum DropReason: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    // Malformed input (the parser's verdicts).
    case truncatedEthernet = "truncated_ethernet"
    case truncatedVLANTag = "truncated_vlan_tag"
    case truncatedARP = "truncated_arp"
    case truncatedIPv4 = "truncated_ipv4"
    case badIPv4Version = "bad_ipv4_version"
    case badIPv4HeaderLength = "bad_ipv4_ihl"
    case badIPv4TotalLength = "bad_ipv4_total_length"
    case badIPv4Checksum = "bad_ipv4_checksum"
    case truncatedIPv6 = "truncated_ipv6"
    case badIPv6Version = "bad_ipv6_version"
    case badIPv6PayloadLength = "bad_ipv6_payload_length"
    case truncatedL4 = "truncated_l4"
    case badUDPLength = "bad_udp_length"
    case tooManyVLANTags = "too_many_vlan_tags"
    case badSourceMAC = "bad_source_mac"          // multicast or zero source
    // Forwarding decisions.
    case portDown = "port_down"
    case vlanIngressFilter = "vlan_ingress_filter"
    case stpBlocked = "stp_blocked"
    case hairpin = "hairpin"                      // destination is the ingress port
    case isolated = "isolated"
    /// A locked port's frame whose source MAC has no FDB entry on that port (`BR_PORT_LOCKED`).
    case lockedPort = "locked_port"
    case floodSuppressed = "flood_suppressed"     // no port allowed to receive a flood
    case blackhole = "blackhole_route"
    case unknownVNI = "unknown_vni"
    case linkLocalFromTunnel = "link_local_from_tunnel"
    /// Outer CE over an inner packet that is not ECN-capable (RFC 6040 §4.2): the kernel's
    /// vxlan drops it and counts `rx_errors` / `rx_frame_errors`.
    case vxlanECN = "vxlan_ecn"
    case trapPolicer = "trap_policer"
    case egressMTU = "egress_mtu"
    /// An ingress ACL rule's `drop` verdict (tc `action drop`).
    case aclDrop = "acl_drop"

    public var description: String { rawValue }
}

/// Counters of one port, as `ip -s link` reports them.
public struct PortCounters: Hashable, Sendable {
    public var rxPackets: UInt64 = 0
    public var rxBytes: UInt64 = 0
    public var txPackets: UInt64 = 0
    public var txBytes: UInt64 = 0
    public var rxDrops: UInt64 = 0
    public init() {}
}

/// How full one table is.
public struct TableOccupancy: Hashable, Sendable, CustomStringConvertible {
    public var used: Int
    public var capacity: Int
    public init(used: Int, capacity: Int) {
        self.used = used
        self.capacity = capacity
    }
    public var description: String { "\(used)/\(capacity)" }
}

/// Counters of one trap reason.
public struct TrapCounters: Hashable, Sendable {
    public var packets: UInt64 = 0
    /// Packets the trap's policer discarded to protect the CPU.
    public var policerDrops: UInt64 = 0
    public init() {}
}

/// A snapshot of a driver's counters.
public struct DriverCounters: Hashable, Sendable {
    public var ports: [PortID: PortCounters]
    public var tables: [TableKind: TableOccupancy]
    public var traps: [TrapReason: TrapCounters]
    public var drops: [DropReason: UInt64]
    /// Events the hardware could not queue (its event FIFO was full), since it started.
    public var eventsLost: UInt64
    /// Hits per ingress ACL rule.
    public var acl: [ACLRuleID: ACLRuleCounters] = [:]

    public init(ports: [PortID: PortCounters] = [:], tables: [TableKind: TableOccupancy] = [:],
                traps: [TrapReason: TrapCounters] = [:], drops: [DropReason: UInt64] = [:], eventsLost: UInt64 = 0) {
        self.ports = ports
        self.tables = tables
        self.traps = traps
        self.drops = drops
        self.eventsLost = eventsLost
    }
}

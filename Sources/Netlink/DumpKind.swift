internal import CNetlink
import SwitchModel

/// The object tables a dump can read, each with its request.
public enum DumpKind: String, CaseIterable, Sendable, CustomStringConvertible {
    /// `RTM_GETLINK`, AF_UNSPEC, `RTEXT_FILTER_VF`: every interface with its link info, and
    /// an SR-IOV PF with its VFs.
    case links
    /// `RTM_GETLINK`, AF_BRIDGE, `RTEXT_FILTER_BRVLAN_COMPRESSED`: bridge ports and their VLANs.
    case bridgePorts
    /// `RTM_GETVLAN`, AF_BRIDGE: per-VLAN state (kernels with VLAN filtering).
    case vlans
    /// `RTM_GETNEIGH`, AF_BRIDGE: every bridge and device FDB entry.
    case fdb
    /// `RTM_GETMDB`.
    case mdb
    /// `RTM_GETADDR`, AF_UNSPEC.
    case addresses
    /// `RTM_GETNEXTHOP`.
    case nexthops
    /// `RTM_GETROUTE`, AF_UNSPEC: every table of both IP families.
    case routes
    /// `RTM_GETNEIGH`, AF_UNSPEC: ARP and ND entries.
    case neighbors
    /// `RTM_GETNETCONF`, AF_UNSPEC: every family's per-device settings, `all` and `default`.
    case netconf
    /// `RTM_GETRULE`, AF_UNSPEC: the policy routing rules of both IP families.
    case rules
    /// `RTM_GETQDISC`: every qdisc of every interface (tc filters have no all-device dump).
    case qdiscs

    public var description: String { rawValue }

    func request(sequence: UInt32) -> NetlinkMessageBuilder {
        let flags = UInt16(NLM_F_REQUEST | NLM_F_DUMP)
        switch self {
        case .links, .bridgePorts:
            let b = NetlinkMessageBuilder(type: UInt16(RTM_GETLINK), flags: flags, sequence: sequence)
            var header = ifinfomsg()
            header.ifi_family = UInt8(self == .links ? AF_UNSPEC : AF_BRIDGE)
            b.append(header: Self.bytes(of: header))
            if self == .bridgePorts { b.put(Int(IFLA_EXT_MASK), u32: UInt32(RTEXT_FILTER_BRVLAN_COMPRESSED)) }
            if self == .links { b.put(Int(IFLA_EXT_MASK), u32: UInt32(RTEXT_FILTER_VF)) }
            return b
        case .vlans:
            var header = br_vlan_msg()
            header.family = UInt8(AF_BRIDGE)
            return NetlinkMessageBuilder(type: UInt16(RTM_GETVLAN), flags: flags, sequence: sequence)
                .append(header: Self.bytes(of: header))
        case .fdb, .neighbors:
            var header = ndmsg()
            header.ndm_family = UInt8(self == .fdb ? AF_BRIDGE : AF_UNSPEC)
            return NetlinkMessageBuilder(type: UInt16(RTM_GETNEIGH), flags: flags, sequence: sequence)
                .append(header: Self.bytes(of: header))
        case .mdb:
            var header = br_port_msg()
            header.family = UInt8(AF_BRIDGE)
            return NetlinkMessageBuilder(type: UInt16(RTM_GETMDB), flags: flags, sequence: sequence)
                .append(header: Self.bytes(of: header))
        case .addresses:
            return NetlinkMessageBuilder(type: UInt16(RTM_GETADDR), flags: flags, sequence: sequence)
                .append(header: Self.bytes(of: ifaddrmsg()))
        case .nexthops:
            return NetlinkMessageBuilder(type: UInt16(RTM_GETNEXTHOP), flags: flags, sequence: sequence)
                .append(header: Self.bytes(of: nhmsg()))
        case .routes:
            return NetlinkMessageBuilder(type: UInt16(RTM_GETROUTE), flags: flags, sequence: sequence)
                .append(header: Self.bytes(of: rtmsg()))
        case .netconf:
            // struct netconfmsg is one byte; the kernel checks for at least that (padded to 4).
            return NetlinkMessageBuilder(type: UInt16(RTM_GETNETCONF), flags: flags, sequence: sequence)
                .append(header: Self.bytes(of: netconfmsg()))
        case .rules:
            return NetlinkMessageBuilder(type: UInt16(RTM_GETRULE), flags: flags, sequence: sequence)
                .append(header: Self.bytes(of: fib_rule_hdr()))
        case .qdiscs:
            return NetlinkMessageBuilder(type: UInt16(RTM_GETQDISC), flags: flags, sequence: sequence)
                .append(header: Self.bytes(of: tcmsg()))
        }
    }

    static func bytes<T>(of value: T) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }

    /// `RTM_GETTFILTER` for one hook or class of one interface: the kernel dumps filters
    /// per block (`tc_dump_tfilter` ignores a request without `tcm_ifindex`).
    static func filterRequest(interface: IfIndex, parent: UInt32) -> NetlinkMessageBuilder {
        var header = tcmsg()
        header.tcm_family = UInt8(AF_UNSPEC)
        header.tcm_ifindex = Int32(bitPattern: interface.rawValue)
        header.tcm_parent = parent
        return NetlinkMessageBuilder(type: UInt16(RTM_GETTFILTER), flags: UInt16(NLM_F_REQUEST | NLM_F_DUMP))
            .append(header: bytes(of: header))
    }
}

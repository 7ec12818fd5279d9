internal import CNetlink
import SwitchModel

/// Decodes `RTM_NEWLINK` / `RTM_DELLINK`.
///
/// AF_UNSPEC messages describe the interface (`IFLA_*`, with bridge and VXLAN details in
/// `IFLA_LINKINFO`); AF_BRIDGE messages carry bridge-port state in `IFLA_PROTINFO` and VLAN
/// membership in `IFLA_AF_SPEC`.
enum LinkDecoder {
    static func decode(_ message: NetlinkMessageView, emit: (KernelMessage) -> Void) throws {
        let header = try message.familyHeader(ifinfomsg.self)
        let attrs = try message.attributes(familyHeaderSize: MemoryLayout<ifinfomsg>.size, maxType: CNL_IFLA_MAX)
        let index = IfIndex(UInt32(bitPattern: header.ifi_index))
        let isNew = message.type == UInt16(RTM_NEWLINK)
        if Int32(header.ifi_family) == AF_BRIDGE {
            if isNew {
                emit(.bridgePort(try bridgePortInfo(index: index, attrs: attrs)))
            } else {
                emit(.bridgePortRemoved(index))
            }
            return
        }
        guard let name = attrs.string(Int(IFLA_IFNAME)) else {
            throw NetlinkDecodeError("link \(index) without IFLA_IFNAME")
        }
        var link = Link(index: index, name: name)
        link.flags = header.ifi_flags
        link.adminUp = header.ifi_flags & 0x1 != 0  // IFF_UP
        link.mtu = try attrs.u32(Int(IFLA_MTU)) ?? 0
        link.mac = attrs.macAddress(Int(IFLA_ADDRESS))
        link.master = try attrs.u32(Int(IFLA_MASTER)).flatMap { $0 == 0 ? nil : IfIndex($0) }
        link.link = try attrs.u32(Int(IFLA_LINK)).flatMap { $0 == 0 || $0 == index.rawValue ? nil : IfIndex($0) }
        link.operState = OperState(rawValue: try attrs.u8(Int(IFLA_OPERSTATE)) ?? 0) ?? .unknown
        if header.ifi_type == 772 { link.kind = .loopback }  // ARPHRD_LOOPBACK
        if let id = attrs.bytes(Int(IFLA_PHYS_SWITCH_ID)), !id.isEmpty {
            link.physSwitchID = id.map { byte in
                let hex = String(byte, radix: 16)
                return byte < 16 ? "0" + hex : hex
            }.joined()
        }
        link.physPortName = attrs.string(Int(IFLA_PHYS_PORT_NAME))
        if let stats = attrs.bytes(Int(IFLA_STATS64)) { link.statistics = try statistics(stats) }
        if let info = try attrs.nested(Int(IFLA_LINKINFO), maxType: CNL_IFLA_INFO_MAX) {
            try decodeLinkInfo(info, into: &link)
        }
        link.vfs = try VFInfoDecoder.vfs(in: attrs)
        emit(isNew ? .newLink(link) : .delLink(link))
    }

    /// `struct rtnl_link_stats64`: its first eight u64s are rx/tx packets, bytes, errors, dropped.
    static func statistics(_ raw: UnsafeRawBufferPointer) throws -> LinkStatistics {
        guard raw.count >= 64 else { throw NetlinkDecodeError("IFLA_STATS64 of \(raw.count) bytes") }
        func field(_ i: Int) -> UInt64 { raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) }
        return LinkStatistics(rxPackets: field(0), txPackets: field(1), rxBytes: field(2), txBytes: field(3),
                              rxErrors: field(4), txErrors: field(5), rxDropped: field(6), txDropped: field(7))
    }

    private static func decodeLinkInfo(_ info: NetlinkAttributes, into link: inout Link) throws {
        let kind = info.string(Int(IFLA_INFO_KIND)) ?? ""
        if !kind.isEmpty { link.kind = LinkKind(infoKind: kind) }
        let data = info.attribute(Int(IFLA_INFO_DATA))
        switch kind {
        case "bridge":
            link.bridge = try data.map { try bridgeAttributes($0.nested(maxType: CNL_IFLA_BR_MAX)) } ?? BridgeAttributes()
        case "vxlan":
            link.vxlan = try data.map { try vxlanAttributes($0.nested(maxType: CNL_IFLA_VXLAN_MAX)) } ?? VXLANAttributes()
        case "vrf":
            link.vrfTable = try data?.nested(maxType: 1).u32(1)  // IFLA_VRF_TABLE
        case "macvlan":
            // IFLA_MACVLAN_MODE (1); a mode this model does not name stays nil.
            link.macvlanMode = try data?.nested(maxType: 9).u32(1).flatMap(MACVLANMode.init(rawValue:))
        case "bond":
            link.bond = try data.map { try bondAttributes($0.nested(maxType: 31)) } ?? BondAttributes()
        case "tun":
            if let type = try data?.nested(maxType: CNL_IFLA_TUN_TYPE).u8(Int(CNL_IFLA_TUN_TYPE)) {
                link.kind = type == 2 ? .tap : .tun  // IFF_TAP
            }
        default:
            break
        }
        if info.string(Int(IFLA_INFO_SLAVE_KIND)) == "bridge" {
            let slave = try info.nested(Int(IFLA_INFO_SLAVE_DATA), maxType: CNL_IFLA_BRPORT_MAX)
            link.bridgePort = try slave.map(bridgePortAttributes) ?? BridgePortAttributes()
        }
        if info.string(Int(IFLA_INFO_SLAVE_KIND)) == "bond" {
            let slave = try info.nested(Int(IFLA_INFO_SLAVE_DATA), maxType: 9)
            link.bondSlave = try slave.map(bondSlaveAttributes) ?? BondSlaveAttributes()
        }
    }

    /// `IFLA_BOND_*` (linux/if_link.h numbers: the libnl headers lack most of them).
    static func bondAttributes(_ a: NetlinkAttributes) throws -> BondAttributes {
        var b = BondAttributes()
        if let m = try a.u8(1) {                                    // IFLA_BOND_MODE
            guard let mode = BondMode(rawValue: m) else { throw NetlinkDecodeError("bond mode \(m) out of range") }
            b.mode = mode
        }
        b.activeSlave = try a.u32(2).flatMap { $0 == 0 ? nil : IfIndex($0) }   // IFLA_BOND_ACTIVE_SLAVE
        if let p = try a.u8(14) {                                   // IFLA_BOND_XMIT_HASH_POLICY
            guard let policy = BondHashPolicy(rawValue: p) else { throw NetlinkDecodeError("bond xmit_hash_policy \(p) out of range") }
            b.hashPolicy = policy
        }
        b.allSlavesActive = try a.bool(17) ?? false                 // IFLA_BOND_ALL_SLAVES_ACTIVE
        if let info = try a.nested(23, maxType: 5) {                // IFLA_BOND_AD_INFO
            b.activeAggregator = try info.u16(1)                    // IFLA_BOND_AD_INFO_AGGREGATOR
        }
        return b
    }

    /// `IFLA_BOND_SLAVE_*`.
    static func bondSlaveAttributes(_ a: NetlinkAttributes) throws -> BondSlaveAttributes {
        var s = BondSlaveAttributes()
        s.active = try a.u8(1).map { $0 == 0 } ?? true              // IFLA_BOND_SLAVE_STATE: BOND_STATE_ACTIVE
        s.miiUp = try a.u8(2).map { $0 == 0 } ?? true               // IFLA_BOND_SLAVE_MII_STATUS: BOND_LINK_UP
        s.aggregator = try a.u16(6)                                 // IFLA_BOND_SLAVE_AD_AGGREGATOR_ID
        return s
    }

    static func bridgeAttributes(_ a: NetlinkAttributes) throws -> BridgeAttributes {
        var b = BridgeAttributes()
        b.stpState = try a.u32(Int(IFLA_BR_STP_STATE)) ?? b.stpState
        b.ageingTime = try a.u32(Int(IFLA_BR_AGEING_TIME)) ?? b.ageingTime
        b.forwardDelay = try a.u32(Int(IFLA_BR_FORWARD_DELAY)) ?? b.forwardDelay
        b.helloTime = try a.u32(Int(IFLA_BR_HELLO_TIME)) ?? b.helloTime
        b.maxAge = try a.u32(Int(IFLA_BR_MAX_AGE)) ?? b.maxAge
        b.priority = try a.u16(Int(IFLA_BR_PRIORITY)) ?? b.priority
        b.vlanFiltering = try a.bool(Int(IFLA_BR_VLAN_FILTERING))
        b.vlanProtocol = try a.be16(Int(IFLA_BR_VLAN_PROTOCOL))
        b.defaultPVID = try a.u16(Int(IFLA_BR_VLAN_DEFAULT_PVID))
        b.multicastSnooping = try a.bool(Int(IFLA_BR_MCAST_SNOOPING))
        b.multicastQuerier = try a.bool(Int(IFLA_BR_MCAST_QUERIER)) ?? false
        b.multicastQueryResponseInterval = try a.u64(Int(IFLA_BR_MCAST_QUERY_RESPONSE_INTVL)) ?? b.multicastQueryResponseInterval
        // struct br_boolopt_multi { __u32 optval; __u32 optmask; }
        if let raw = a.bytes(Int(IFLA_BR_MULTI_BOOLOPT)), raw.count >= 8 {
            let optval = raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self)
            b.mstEnabled = optval & (1 << UInt32(BR_BOOLOPT_MST_ENABLE.rawValue)) != 0
        }
        return b
    }

    static func bridgePortAttributes(_ a: NetlinkAttributes) throws -> BridgePortAttributes {
        var p = BridgePortAttributes()
        if let s = try a.u8(Int(IFLA_BRPORT_STATE)) {
            guard let state = STPState(rawValue: s) else { throw NetlinkDecodeError("bridge port state \(s) out of range") }
            p.state = state
        }
        p.priority = try a.u16(Int(IFLA_BRPORT_PRIORITY)) ?? p.priority
        p.cost = try a.u32(Int(IFLA_BRPORT_COST)) ?? p.cost
        p.hairpin = try a.bool(Int(IFLA_BRPORT_MODE)) ?? p.hairpin
        p.bpduGuard = try a.bool(Int(IFLA_BRPORT_GUARD)) ?? p.bpduGuard
        p.rootBlock = try a.bool(Int(IFLA_BRPORT_PROTECT)) ?? p.rootBlock
        p.fastLeave = try a.bool(Int(IFLA_BRPORT_FAST_LEAVE)) ?? p.fastLeave
        p.learning = try a.bool(Int(IFLA_BRPORT_LEARNING)) ?? p.learning
        p.unicastFlood = try a.bool(Int(IFLA_BRPORT_UNICAST_FLOOD)) ?? p.unicastFlood
        p.multicastRouter = try a.u8(Int(IFLA_BRPORT_MULTICAST_ROUTER)) ?? p.multicastRouter
        p.multicastFlood = try a.bool(Int(IFLA_BRPORT_MCAST_FLOOD)) ?? p.multicastFlood
        p.broadcastFlood = try a.bool(Int(IFLA_BRPORT_BCAST_FLOOD)) ?? p.broadcastFlood
        p.neighSuppress = try a.bool(Int(IFLA_BRPORT_NEIGH_SUPPRESS)) ?? p.neighSuppress
        p.isolated = try a.bool(Int(IFLA_BRPORT_ISOLATED)) ?? p.isolated
        p.locked = try a.bool(Int(IFLA_BRPORT_LOCKED)) ?? p.locked
        p.mab = try a.bool(Int(CNL_IFLA_BRPORT_MAB)) ?? p.mab
        p.neighVLANSuppress = try a.bool(Int(CNL_IFLA_BRPORT_NEIGH_VLAN_SUPPRESS)) ?? p.neighVLANSuppress
        p.backupPort = try a.u32(Int(IFLA_BRPORT_BACKUP_PORT)).flatMap { $0 == 0 ? nil : IfIndex($0) }
        p.backupNexthop = try a.u32(Int(CNL_IFLA_BRPORT_BACKUP_NHID)).flatMap { $0 == 0 ? nil : $0 }
        return p
    }

    static func vxlanAttributes(_ a: NetlinkAttributes) throws -> VXLANAttributes {
        var v = VXLANAttributes()
        v.vni = try a.u32(Int(IFLA_VXLAN_ID))
        v.local = try a.ipAddress(Int(IFLA_VXLAN_LOCAL)) ?? a.ipAddress(Int(IFLA_VXLAN_LOCAL6))
        v.group = try a.ipAddress(Int(IFLA_VXLAN_GROUP)) ?? a.ipAddress(Int(IFLA_VXLAN_GROUP6))
        v.port = try a.be16(Int(IFLA_VXLAN_PORT)) ?? v.port
        v.underlay = try a.u32(Int(IFLA_VXLAN_LINK)).flatMap { $0 == 0 ? nil : IfIndex($0) }
        v.learning = try a.bool(Int(IFLA_VXLAN_LEARNING)) ?? v.learning
        v.ttl = try a.u8(Int(IFLA_VXLAN_TTL)) ?? v.ttl
        v.collectMetadata = try a.bool(Int(IFLA_VXLAN_COLLECT_METADATA)) ?? false
        v.ttlInherit = try a.bool(Int(IFLA_VXLAN_TTL_INHERIT)) ?? false   // a u8 in dumps (a flag when set by iproute2)
        v.tos = try a.u8(Int(IFLA_VXLAN_TOS)) ?? 0
        v.df = try a.u8(Int(IFLA_VXLAN_DF)) ?? 0
        v.udpChecksum = try a.bool(Int(IFLA_VXLAN_UDP_CSUM)) ?? true
        if let range = try a.attribute(Int(IFLA_VXLAN_PORT_RANGE))?.load(ifla_vxlan_port_range.self) {
            let low = UInt16(bigEndian: range.low), high = UInt16(bigEndian: range.high)
            if low < high { v.sourcePorts = low..<high }
        }
        if v.collectMetadata { v.vni = nil }
        return v
    }

    private static func bridgePortInfo(index: IfIndex, attrs: NetlinkAttributes) throws -> BridgePortInfo {
        var info = BridgePortInfo(port: index)
        info.master = try attrs.u32(Int(IFLA_MASTER)).flatMap { $0 == 0 ? nil : IfIndex($0) }
        if let protinfo = attrs.attribute(Int(IFLA_PROTINFO)) {
            info.attributes = try bridgePortAttributes(protinfo.nested(maxType: CNL_IFLA_BRPORT_MAX))
        }
        if let spec = attrs.attribute(Int(IFLA_AF_SPEC)) {
            info.vlans = try vlans(inAFSpec: spec)
        }
        return info
    }

    /// The VLANs in an `IFLA_AF_SPEC` nest: repeated `IFLA_BRIDGE_VLAN_INFO` entries, where a
    /// `BRIDGE_VLAN_INFO_RANGE_BEGIN` … `_RANGE_END` pair stands for every VID between.
    static func vlans(inAFSpec spec: NetlinkAttribute) throws -> [PortVLAN] {
        var out: [PortVLAN] = []
        var rangeStart: (vid: UInt16, flags: UInt16)?
        try spec.forEachNested { attr in
            guard attr.type == Int32(IFLA_BRIDGE_VLAN_INFO) else { return }
            let info = try attr.load(bridge_vlan_info.self)
            guard (1...4094).contains(info.vid) else { throw NetlinkDecodeError("VLAN id \(info.vid) out of range") }
            if info.flags & UInt16(BRIDGE_VLAN_INFO_RANGE_BEGIN) != 0 {
                rangeStart = (info.vid, info.flags)
                return
            }
            let first: UInt16
            if info.flags & UInt16(BRIDGE_VLAN_INFO_RANGE_END) != 0 {
                guard let start = rangeStart, start.vid <= info.vid else {
                    throw NetlinkDecodeError("VLAN range end \(info.vid) without a matching begin")
                }
                first = start.vid
                rangeStart = nil
            } else {
                first = info.vid
            }
            for vid in first...info.vid {
                out.append(PortVLAN(vid: VLANID(integerLiteral: vid),
                                    pvid: info.flags & UInt16(BRIDGE_VLAN_INFO_PVID) != 0,
                                    untagged: info.flags & UInt16(BRIDGE_VLAN_INFO_UNTAGGED) != 0))
            }
        }
        if let start = rangeStart { throw NetlinkDecodeError("VLAN range begin \(start.vid) without an end") }
        return out
    }
}

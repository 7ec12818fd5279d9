import SwitchModel

/// The ARP operation code, `ar_op` (RFC 826; `ARPOP_REQUEST`, `ARPOP_REPLY`).
public enum ARPOperation: UInt16, Hashable, Sendable {
    case request = 1
    case reply = 2
}

/// A multicast group record of an IGMPv3 report (RFC 3376 §4.2.4) or MLDv2 report
/// (RFC 3810 §5.2.4); both protocols use the same record types.
public struct GroupRecord: Hashable, Sendable {
    /// The record type (RFC 3376 §4.2.12, RFC 3810 §5.2.12; `IGMPV3_MODE_IS_INCLUDE` …).
    public enum Kind: UInt8, Hashable, Sendable {
        case modeIsInclude = 1
        case modeIsExclude = 2
        case changeToInclude = 3
        case changeToExclude = 4
        case allowNewSources = 5
        case blockOldSources = 6
    }

    public var kind: Kind
    public var group: IPAddress
    public var sources: [IPAddress]

    public init(kind: Kind, group: IPAddress, sources: [IPAddress] = []) {
        precondition(sources.allSatisfy { $0.isIPv4 == group.isIPv4 }, "group record sources of another family")
        self.kind = kind
        self.group = group
        self.sources = sources
    }
}

extension FrameBuilder {
    // MARK: - Well-known addresses

    /// `224.0.0.1`, all systems (RFC 1112).
    public static let allSystemsIPv4 = IPAddress(ipv4: 0xE000_0001)
    /// `224.0.0.2`, all routers: IGMPv2 leaves go here (RFC 2236 §3).
    public static let allRoutersIPv4 = IPAddress(ipv4: 0xE000_0002)
    /// `224.0.0.22`, IGMPv3-capable routers: IGMPv3 reports go here (RFC 3376 §4.2.14).
    public static let igmpv3RoutersIPv4 = IPAddress(ipv4: 0xE000_0016)
    /// `ff02::1`, link-local all nodes.
    public static let allNodesIPv6 = IPAddress(high: 0xFF02_0000_0000_0000, low: 1)
    /// `ff02::16`, MLDv2-capable routers: MLDv2 reports go here (RFC 3810 §5.2.14).
    public static let mldv2RoutersIPv6 = IPAddress(high: 0xFF02_0000_0000_0000, low: 0x16)
    /// `01:80:c2:00:00:00`, the bridge group address STP BPDUs go to (IEEE 802.1D §7.12.3).
    public static let bridgeGroupMAC = MACAddress(rawValue: 0x0180_C200_0000)
    /// `01:80:c2:00:00:0e`, the nearest-bridge address LLDP uses (IEEE 802.1AB §7.1).
    public static let lldpMulticastMAC = MACAddress(rawValue: 0x0180_C200_000E)

    /// The IPv4 router alert option (RFC 2113): type 148, length 4, value 0.
    public static let ipv4RouterAlertOption: [UInt8] = [0x94, 0x04, 0x00, 0x00]
    /// The IPv6 router alert hop-by-hop option (RFC 2711) with value 0 (MLD).
    public static let ipv6RouterAlertOption: [UInt8] = [0x05, 0x02, 0x00, 0x00]

    /// The Ethernet multicast MAC of an IP multicast group: `01:00:5e` plus the low 23 bits
    /// for IPv4 (RFC 1112 §6.4), `33:33` plus the low 32 bits for IPv6 (RFC 2464 §7)
    /// — the kernel's `ip_eth_mc_map()` / `ipv6_eth_mc_map()`.
    public static func multicastMAC(for group: IPAddress) -> MACAddress {
        if group.isIPv4 {
            return MACAddress(rawValue: 0x0100_5E00_0000 | UInt64(group.ipv4Value & 0x7F_FFFF))
        }
        return MACAddress(rawValue: 0x3333_0000_0000 | (group.low & 0xFFFF_FFFF))
    }

    /// The solicited-node multicast address `ff02::1:ffXX:XXXX` of an IPv6 address (its
    /// low 24 bits; RFC 4291 §2.7.1, the kernel's `addrconf_addr_solict_mult()`).
    public static func solicitedNodeAddress(for address: IPAddress) -> IPAddress {
        precondition(!address.isIPv4, "solicited-node address of an IPv4 address")
        return IPAddress(high: 0xFF02_0000_0000_0000, low: 0x0000_0001_FF00_0000 | (address.low & 0xFF_FFFF))
    }

    // MARK: - ARP

    /// An ARP packet for Ethernet/IPv4 (RFC 826, `struct arphdr` + addresses, 28 bytes).
    public static func arp(operation: ARPOperation, srcMAC: MACAddress, dstMAC: MACAddress, vlan: [VLANTag] = [],
                           senderMAC: MACAddress, senderIP: IPAddress, targetMAC: MACAddress, targetIP: IPAddress,
                           pad: Bool = true) -> [UInt8] {
        precondition(senderIP.isIPv4 && targetIP.isIPv4, "ARP with an IPv6 address")
        var body: [UInt8] = []
        body.reserveCapacity(28)
        put16(&body, 1)                                         // ar_hrd: Ethernet
        put16(&body, EtherType.ipv4)                            // ar_pro
        body.append(6)                                          // ar_hln
        body.append(4)                                          // ar_pln
        put16(&body, operation.rawValue)
        putMAC(&body, senderMAC)
        putIP(&body, senderIP)
        putMAC(&body, targetMAC)
        putIP(&body, targetIP)
        return ethernet(dst: dstMAC, src: srcMAC, vlan: vlan, etherType: EtherType.arp, payload: body, pad: pad)
    }

    /// A broadcast ARP request "who has `targetIP`? tell `senderIP`" (target MAC zero).
    /// A gratuitous ARP is a request with `targetIP == senderIP`.
    public static func arpRequest(srcMAC: MACAddress, vlan: [VLANTag] = [], senderIP: IPAddress, targetIP: IPAddress,
                                  pad: Bool = true) -> [UInt8] {
        arp(operation: .request, srcMAC: srcMAC, dstMAC: .broadcast, vlan: vlan, senderMAC: srcMAC, senderIP: senderIP,
            targetMAC: .zero, targetIP: targetIP, pad: pad)
    }

    /// A unicast ARP reply "`senderIP` is at `srcMAC`" to the requester `dstMAC`/`targetIP`.
    public static func arpReply(srcMAC: MACAddress, dstMAC: MACAddress, vlan: [VLANTag] = [], senderIP: IPAddress,
                                targetIP: IPAddress, pad: Bool = true) -> [UInt8] {
        arp(operation: .reply, srcMAC: srcMAC, dstMAC: dstMAC, vlan: vlan, senderMAC: srcMAC, senderIP: senderIP,
            targetMAC: dstMAC, targetIP: targetIP, pad: pad)
    }

    // MARK: - IGMP

    /// An IGMP frame: IPv4 with TTL 1 and the router alert option (RFC 2236 §2, RFC 3376 §4),
    /// to the group's multicast MAC.
    static func igmpFrame(srcMAC: MACAddress, vlan: [VLANTag], src: IPAddress, dst: IPAddress, message: [UInt8],
                          pad: Bool) -> [UInt8] {
        precondition(src.isIPv4 && dst.isIPv4 && dst.isMulticast, "IGMP needs IPv4 addresses and a multicast destination")
        let packet = ipv4Packet(src: src, dst: dst, protocol: IPProtocol.igmp, payload: message, ttl: 1,
                                options: ipv4RouterAlertOption)
        return ethernet(dst: multicastMAC(for: dst), src: srcMAC, vlan: vlan, etherType: EtherType.ipv4, payload: packet, pad: pad)
    }

    /// An IGMPv1/v2 message (RFC 2236 §2, `struct igmphdr`): type, max response time, checksum, group.
    public static func igmpv2Message(type: UInt8, maxResponseTime: UInt8 = 0, group: IPAddress) -> [UInt8] {
        precondition(group.isIPv4, "IGMP group must be IPv4")
        var message: [UInt8] = [type, maxResponseTime, 0, 0]
        putIP(&message, group)
        set16(&message, InternetChecksum.checksum(message), at: 2)
        return message
    }

    /// An IGMPv2 membership report (type 0x16) for `group`, sent to the group.
    public static func igmpv2Report(srcMAC: MACAddress, vlan: [VLANTag] = [], src: IPAddress, group: IPAddress,
                                    pad: Bool = true) -> [UInt8] {
        igmpFrame(srcMAC: srcMAC, vlan: vlan, src: src, dst: group,
                  message: igmpv2Message(type: IGMPType.v2MembershipReport, group: group), pad: pad)
    }

    /// An IGMPv2 leave group (type 0x17) for `group`, sent to all routers (224.0.0.2).
    public static func igmpv2Leave(srcMAC: MACAddress, vlan: [VLANTag] = [], src: IPAddress, group: IPAddress,
                                   pad: Bool = true) -> [UInt8] {
        igmpFrame(srcMAC: srcMAC, vlan: vlan, src: src, dst: allRoutersIPv4,
                  message: igmpv2Message(type: IGMPType.v2LeaveGroup, group: group), pad: pad)
    }

    /// An IGMPv2 membership query (type 0x11): general (group 0.0.0.0, to 224.0.0.1) or
    /// group-specific (to the group). `maxResponseTime` is in tenths of a second.
    public static func igmpQuery(srcMAC: MACAddress, vlan: [VLANTag] = [], src: IPAddress,
                                 group: IPAddress = .anyIPv4, maxResponseTime: UInt8 = 100, pad: Bool = true) -> [UInt8] {
        igmpFrame(srcMAC: srcMAC, vlan: vlan, src: src, dst: group.isUnspecified ? allSystemsIPv4 : group,
                  message: igmpv2Message(type: IGMPType.membershipQuery, maxResponseTime: maxResponseTime, group: group),
                  pad: pad)
    }

    /// An IGMPv3 membership report (type 0x22, RFC 3376 §4.2) to 224.0.0.22.
    public static func igmpv3Report(srcMAC: MACAddress, vlan: [VLANTag] = [], src: IPAddress, records: [GroupRecord],
                                    pad: Bool = true) -> [UInt8] {
        precondition(records.count <= 0xFFFF, "too many group records")
        var message: [UInt8] = [IGMPType.v3MembershipReport, 0, 0, 0, 0, 0]  // type, reserved, checksum, reserved
        put16(&message, UInt16(records.count))
        appendGroupRecords(&message, records, ipv4: true)
        set16(&message, InternetChecksum.checksum(message), at: 2)
        return igmpFrame(srcMAC: srcMAC, vlan: vlan, src: src, dst: igmpv3RoutersIPv4, message: message, pad: pad)
    }

    /// Group records: type, aux data length (0), number of sources, group, sources.
    static func appendGroupRecords(_ bytes: inout [UInt8], _ records: [GroupRecord], ipv4: Bool) {
        for record in records {
            precondition(record.group.isIPv4 == ipv4, "group record of the wrong family")
            precondition(record.sources.count <= 0xFFFF, "too many sources")
            bytes.append(record.kind.rawValue)
            bytes.append(0)
            put16(&bytes, UInt16(record.sources.count))
            putIP(&bytes, record.group)
            for source in record.sources { putIP(&bytes, source) }
        }
    }

    // MARK: - MLD and Neighbor Discovery

    /// An ICMPv6 frame to the IPv6 multicast MAC of `dst` (or `dstMAC`), optionally with a
    /// hop-by-hop router alert.
    static func icmpv6Frame(srcMAC: MACAddress, dstMAC: MACAddress? = nil, vlan: [VLANTag], src: IPAddress, dst: IPAddress,
                            message: [UInt8], hopLimit: UInt8, routerAlert: Bool, pad: Bool) -> [UInt8] {
        let packet = ipv6Packet(src: src, dst: dst, nextHeader: IPProtocol.icmpv6, payload: message, hopLimit: hopLimit,
                                extensionHeaders: routerAlert ? [.hopByHop(options: ipv6RouterAlertOption)] : [])
        return ethernet(dst: dstMAC ?? multicastMAC(for: dst), src: srcMAC, vlan: vlan, etherType: EtherType.ipv6,
                        payload: packet, pad: pad)
    }

    /// An MLDv2 report (ICMPv6 143, RFC 3810 §5.2) to ff02::16 with hop limit 1 and a
    /// hop-by-hop router alert. `src` should be the host's link-local address.
    public static func mldv2Report(srcMAC: MACAddress, vlan: [VLANTag] = [], src: IPAddress, records: [GroupRecord],
                                   pad: Bool = true) -> [UInt8] {
        precondition(!src.isIPv4, "MLD needs an IPv6 source")
        precondition(records.count <= 0xFFFF, "too many group records")
        var body: [UInt8] = [0, 0]                              // reserved
        put16(&body, UInt16(records.count))
        appendGroupRecords(&body, records, ipv4: false)
        let message = icmpv6Message(src: src, dst: mldv2RoutersIPv6, type: ICMPv6Type.mldv2Report, code: 0, body: body)
        return icmpv6Frame(srcMAC: srcMAC, vlan: vlan, src: src, dst: mldv2RoutersIPv6, message: message, hopLimit: 1,
                           routerAlert: true, pad: pad)
    }

    /// A Neighbor Solicitation (ICMPv6 135, RFC 4861 §4.3) for `target`, to its
    /// solicited-node multicast address and MAC, hop limit 255, with a source link-layer
    /// address option — omitted when `src` is `::` (duplicate address detection, §7.2.2).
    public static func neighborSolicitation(srcMAC: MACAddress, vlan: [VLANTag] = [], src: IPAddress, target: IPAddress,
                                            pad: Bool = true) -> [UInt8] {
        precondition(!src.isIPv4 && !target.isIPv4, "Neighbor Discovery needs IPv6 addresses")
        let dst = solicitedNodeAddress(for: target)
        var body: [UInt8] = [0, 0, 0, 0]                        // reserved
        putIP(&body, target)
        if !src.isUnspecified {
            body.append(1)                                      // source link-layer address
            body.append(1)                                      // length in 8-octet units
            putMAC(&body, srcMAC)
        }
        let message = icmpv6Message(src: src, dst: dst, type: ICMPv6Type.neighborSolicitation, code: 0, body: body)
        return icmpv6Frame(srcMAC: srcMAC, vlan: vlan, src: src, dst: dst, message: message, hopLimit: 255,
                           routerAlert: false, pad: pad)
    }

    /// A Neighbor Advertisement (ICMPv6 136, RFC 4861 §4.4) for `target` with a target
    /// link-layer address option (`srcMAC`), hop limit 255. Without `dst` it is unsolicited,
    /// to all nodes (ff02::1), and `solicited` should be false.
    public static func neighborAdvertisement(srcMAC: MACAddress, dstMAC: MACAddress? = nil, vlan: [VLANTag] = [],
                                             src: IPAddress, dst: IPAddress? = nil, target: IPAddress,
                                             router: Bool = false, solicited: Bool = true, override: Bool = true,
                                             pad: Bool = true) -> [UInt8] {
        let dst = dst ?? allNodesIPv6
        precondition(!src.isIPv4 && !dst.isIPv4 && !target.isIPv4, "Neighbor Discovery needs IPv6 addresses")
        precondition(dstMAC != nil || dst.isMulticast, "a unicast NA needs the destination MAC")
        var body: [UInt8] = [(router ? 0x80 : 0) | (solicited ? 0x40 : 0) | (override ? 0x20 : 0), 0, 0, 0]
        putIP(&body, target)
        body.append(2)                                          // target link-layer address
        body.append(1)
        putMAC(&body, srcMAC)
        let message = icmpv6Message(src: src, dst: dst, type: ICMPv6Type.neighborAdvertisement, code: 0, body: body)
        return icmpv6Frame(srcMAC: srcMAC, dstMAC: dstMAC, vlan: vlan, src: src, dst: dst, message: message,
                           hopLimit: 255, routerAlert: false, pad: pad)
    }

    // MARK: - Layer 2 control

    /// An STP configuration BPDU (IEEE 802.1D-2004 §9.3.1, 35 bytes) in an 802.3 frame with
    /// LLC `42 42 03`, to 01:80:c2:00:00:00. Bridge IDs are priority(16) + MAC(48); times
    /// are in seconds (sent in 1/256 s units).
    public static func stpConfigurationBPDU(srcMAC: MACAddress, vlan: [VLANTag] = [], rootID: UInt64, rootPathCost: UInt32 = 0,
                                            bridgeID: UInt64, portID: UInt16 = 0x8001, flags: UInt8 = 0,
                                            messageAge: UInt8 = 0, maxAge: UInt8 = 20, helloTime: UInt8 = 2,
                                            forwardDelay: UInt8 = 15, pad: Bool = true) -> [UInt8] {
        var payload: [UInt8] = [0x42, 0x42, 0x03]               // LLC: DSAP, SSAP, UI
        payload += [0x00, 0x00, 0x00, 0x00, flags]              // protocol ID, version 0, type 0 (config), flags
        put64(&payload, rootID)
        put32(&payload, rootPathCost)
        put64(&payload, bridgeID)
        put16(&payload, portID)
        for seconds in [messageAge, maxAge, helloTime, forwardDelay] { put16(&payload, UInt16(seconds) << 8) }
        // 802.3 frame: the type field is the length of the LLC PDU.
        return ethernet(dst: bridgeGroupMAC, src: srcMAC, vlan: vlan, etherType: UInt16(payload.count), payload: payload, pad: pad)
    }

    /// An LLDP frame (IEEE 802.1AB §8) to 01:80:c2:00:00:0e: chassis ID (MAC address subtype 4),
    /// port ID (interface name subtype 5), TTL, optional system name, end of LLDPDU.
    public static func lldp(srcMAC: MACAddress, chassisID: MACAddress, portID: String, ttl: UInt16 = 120,
                            systemName: String? = nil, pad: Bool = true) -> [UInt8] {
        var payload: [UInt8] = []
        func tlv(_ type: UInt16, _ value: [UInt8]) {
            precondition(value.count <= 511, "LLDP TLV longer than 511 bytes")
            put16(&payload, type << 9 | UInt16(value.count))
            payload += value
        }
        var chassis: [UInt8] = [4]
        putMAC(&chassis, chassisID)
        tlv(1, chassis)
        tlv(2, [5] + Array(portID.utf8))
        tlv(3, [UInt8(ttl >> 8), UInt8(ttl & 0xFF)])
        if let systemName { tlv(5, Array(systemName.utf8)) }
        tlv(0, [])
        return ethernet(dst: lldpMulticastMAC, src: srcMAC, etherType: EtherType.lldp, payload: payload, pad: pad)
    }
}

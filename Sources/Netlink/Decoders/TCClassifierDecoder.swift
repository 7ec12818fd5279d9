internal import CNetlink
import SwitchModel

/// Decodes a `flower` or `matchall` filter's `TCA_OPTIONS` (keys, masks, flags, actions)
/// into a ``TCClassifier``: what a chip ACL can apply exactly, and otherwise the first key,
/// action or option it cannot (`unsupported`), so the port's ingress stays on the CPU.
///
/// Kernel counterparts: `fl_dump` / `fl_dump_key` (net/sched/cls_flower.c), `mall_dump`
/// (cls_matchall.c), `tcf_exts_dump` → `tcf_action_dump` (act_api.c), `tcf_gact_dump`.
enum TCClassifierDecoder {
    static func decode(kind: String, attributes attrs: NetlinkAttributes) throws -> TCClassifier? {
        var c = TCClassifier(chain: try attrs.u32(Int(TCA_CHAIN)) ?? 0)
        switch kind {
        case "flower":
            guard let options = try attrs.nested(Int(TCA_OPTIONS), maxType: CNL_TCA_FLOWER_MAX) else { return c }
            try flower(options, into: &c)
        case "matchall":
            guard let options = try attrs.nested(Int(TCA_OPTIONS), maxType: CNL_TCA_MATCHALL_MAX) else { return c }
            if options.has(Int(TCA_MATCHALL_CLASSID)) { c.unsupported = "matchall classid" }
            c.skipHardware = (try options.u32(Int(TCA_MATCHALL_FLAGS)) ?? 0) & CNL_TCA_CLS_FLAGS_SKIP_HW != 0
            try actions(options.nested(Int(TCA_MATCHALL_ACT), maxType: CNL_TCA_ACT_MAX_PRIO), into: &c)
        default:
            return nil
        }
        return c
    }

    /// The flower keys a chip ACL matches on; any other key present is `unsupported`.
    static let flowerKeys: Set<Int> = [
        Int(TCA_FLOWER_ACT), Int(TCA_FLOWER_FLAGS), Int(TCA_FLOWER_IN_HW_COUNT),
        Int(TCA_FLOWER_KEY_ETH_DST), Int(TCA_FLOWER_KEY_ETH_DST_MASK), Int(TCA_FLOWER_KEY_ETH_SRC), Int(TCA_FLOWER_KEY_ETH_SRC_MASK),
        Int(TCA_FLOWER_KEY_ETH_TYPE), Int(TCA_FLOWER_KEY_IP_PROTO),
        Int(TCA_FLOWER_KEY_IPV4_SRC), Int(TCA_FLOWER_KEY_IPV4_SRC_MASK), Int(TCA_FLOWER_KEY_IPV4_DST), Int(TCA_FLOWER_KEY_IPV4_DST_MASK),
        Int(TCA_FLOWER_KEY_IPV6_SRC), Int(TCA_FLOWER_KEY_IPV6_SRC_MASK), Int(TCA_FLOWER_KEY_IPV6_DST), Int(TCA_FLOWER_KEY_IPV6_DST_MASK),
        Int(TCA_FLOWER_KEY_TCP_SRC), Int(TCA_FLOWER_KEY_TCP_SRC_MASK), Int(TCA_FLOWER_KEY_TCP_DST), Int(TCA_FLOWER_KEY_TCP_DST_MASK),
        Int(TCA_FLOWER_KEY_UDP_SRC), Int(TCA_FLOWER_KEY_UDP_SRC_MASK), Int(TCA_FLOWER_KEY_UDP_DST), Int(TCA_FLOWER_KEY_UDP_DST_MASK),
    ]

    static func flower(_ o: NetlinkAttributes, into c: inout TCClassifier) throws {
        if let other = (1...Int(CNL_TCA_FLOWER_MAX)).first(where: { o.has($0) && !flowerKeys.contains($0) }) {
            c.unsupported = "flower key \(other) (\(flowerKeyName(other)))"
        }
        c.skipHardware = (try o.u32(Int(TCA_FLOWER_FLAGS)) ?? 0) & CNL_TCA_CLS_FLAGS_SKIP_HW != 0
        var m = FlowMatch()
        func mac(_ key: Int32, _ mask: Int32) -> (UInt64, UInt64) {
            guard let v = o.macAddress(Int(key)) else { return (0, 0) }
            return (v.rawValue, o.macAddress(Int(mask))?.rawValue ?? 0xFFFF_FFFF_FFFF)
        }
        (m.dstMAC, m.dstMACMask) = mac(Int32(TCA_FLOWER_KEY_ETH_DST), Int32(TCA_FLOWER_KEY_ETH_DST_MASK))
        (m.srcMAC, m.srcMACMask) = mac(Int32(TCA_FLOWER_KEY_ETH_SRC), Int32(TCA_FLOWER_KEY_ETH_SRC_MASK))
        m.ethType = try o.be16(Int(TCA_FLOWER_KEY_ETH_TYPE)) ?? 0
        if let p = try o.u8(Int(TCA_FLOWER_KEY_IP_PROTO)) { (m.ipProto, m.ipProtoMask) = (p, 0xFF) }
        func v4(_ key: Int32, _ mask: Int32) throws -> (UInt32, UInt32) {
            guard let v = try o.be32(Int(key)) else { return (0, 0) }
            return (v, try o.be32(Int(mask)) ?? 0xFFFF_FFFF)
        }
        (m.ipv4Src, m.ipv4SrcMask) = try v4(Int32(TCA_FLOWER_KEY_IPV4_SRC), Int32(TCA_FLOWER_KEY_IPV4_SRC_MASK))
        (m.ipv4Dst, m.ipv4DstMask) = try v4(Int32(TCA_FLOWER_KEY_IPV4_DST), Int32(TCA_FLOWER_KEY_IPV4_DST_MASK))
        func v6(_ key: Int32, _ mask: Int32) throws -> (IPAddress, IPAddress)? {
            guard let v = try o.ipAddress(Int(key)) else { return nil }
            return (v, try o.ipAddress(Int(mask)) ?? IPAddress(high: ~0, low: ~0))
        }
        if let (v, mask) = try v6(Int32(TCA_FLOWER_KEY_IPV6_SRC), Int32(TCA_FLOWER_KEY_IPV6_SRC_MASK)) { (m.ipv6Src, m.ipv6SrcMask) = (v, mask) }
        if let (v, mask) = try v6(Int32(TCA_FLOWER_KEY_IPV6_DST), Int32(TCA_FLOWER_KEY_IPV6_DST_MASK)) { (m.ipv6Dst, m.ipv6DstMask) = (v, mask) }
        func port(_ key: Int32, _ mask: Int32) throws -> (UInt16, UInt16)? {
            guard let v = try o.be16(Int(key)) else { return nil }
            return (v, try o.be16(Int(mask)) ?? 0xFFFF)
        }
        for (src, srcMask, dst, dstMask) in [(TCA_FLOWER_KEY_TCP_SRC, TCA_FLOWER_KEY_TCP_SRC_MASK, TCA_FLOWER_KEY_TCP_DST, TCA_FLOWER_KEY_TCP_DST_MASK),
                                             (TCA_FLOWER_KEY_UDP_SRC, TCA_FLOWER_KEY_UDP_SRC_MASK, TCA_FLOWER_KEY_UDP_DST, TCA_FLOWER_KEY_UDP_DST_MASK)] {
            if let (v, mask) = try port(Int32(src), Int32(srcMask)) { (m.srcPort, m.srcPortMask) = (v, mask) }
            if let (v, mask) = try port(Int32(dst), Int32(dstMask)) { (m.dstPort, m.dstPortMask) = (v, mask) }
        }
        c.match = m
        try actions(o.nested(Int(TCA_FLOWER_ACT), maxType: CNL_TCA_ACT_MAX_PRIO), into: &c)
    }

    /// The action list: none is `pass`; one `gact` with `ok`, `drop` or `trap` is that
    /// verdict; anything else (another action, several, `continue`, `goto chain`, a random
    /// gact) is unsupported.
    static func actions(_ list: NetlinkAttributes?, into c: inout TCClassifier) throws {
        guard let list else { return }
        let entries = (1...Int(CNL_TCA_ACT_MAX_PRIO)).filter { list.has($0) }
        guard !entries.isEmpty else { return }
        guard entries.count == 1, let action = try list.nested(entries[0], maxType: CNL_TCA_ACT_MAX) else {
            c.unsupported = c.unsupported ?? "\(entries.count) actions"
            return
        }
        let kind = action.string(Int(TCA_ACT_KIND)) ?? ""
        guard kind == "gact", let options = try action.nested(Int(TCA_ACT_OPTIONS), maxType: CNL_TCA_GACT_MAX) else {
            c.unsupported = c.unsupported ?? "action \(kind)"
            return
        }
        if options.has(Int(TCA_GACT_PROB)) {
            c.unsupported = c.unsupported ?? "action gact random"
            return
        }
        guard let parms = options.bytes(Int(TCA_GACT_PARMS)), parms.count >= MemoryLayout<tc_gact>.size else {
            throw NetlinkDecodeError("gact without its parameters")
        }
        let verdict = parms.loadUnaligned(fromByteOffset: MemoryLayout<tc_gact>.offset(of: \tc_gact.action)!, as: Int32.self)
        switch verdict {
        case CNL_TC_ACT_OK: c.verdict = .pass
        case CNL_TC_ACT_SHOT: c.verdict = .drop
        case CNL_TC_ACT_TRAP: c.verdict = .trap
        default: c.unsupported = c.unsupported ?? "action gact \(gactName(verdict))"
        }
    }

    static func gactName(_ v: Int32) -> String {
        switch v {
        case -1: "continue"
        case 1: "reclassify"
        case 3: "pipe"
        case 4: "stolen"
        default: v & 0x2000_0000 != 0 ? "goto chain \(v & 0x0FFF_FFFF)" : v & 0x1000_0000 != 0 ? "jump" : String(v)
        }
    }

    static func flowerKeyName(_ type: Int) -> String {
        switch type {
        case Int(TCA_FLOWER_CLASSID): "classid"
        case Int(TCA_FLOWER_INDEV): "indev"
        case Int(TCA_FLOWER_KEY_VLAN_ID): "vlan_id"
        case Int(TCA_FLOWER_KEY_VLAN_PRIO): "vlan_prio"
        case Int(TCA_FLOWER_KEY_VLAN_ETH_TYPE): "vlan_ethtype"
        case Int(TCA_FLOWER_KEY_ENC_KEY_ID): "enc_key_id"
        case Int(TCA_FLOWER_KEY_IP_TOS): "ip_tos"
        case Int(TCA_FLOWER_KEY_IP_TTL): "ip_ttl"
        case Int(TCA_FLOWER_KEY_FLAGS): "ip_flags"
        case Int(TCA_FLOWER_KEY_ICMPV4_TYPE), Int(TCA_FLOWER_KEY_ICMPV6_TYPE): "type"
        case Int(TCA_FLOWER_KEY_ICMPV4_CODE), Int(TCA_FLOWER_KEY_ICMPV6_CODE): "code"
        case Int(TCA_FLOWER_KEY_TCP_FLAGS): "tcp_flags"
        case Int(TCA_FLOWER_KEY_CT_STATE): "ct_state"
        default: "not matched by the chip"
        }
    }
}

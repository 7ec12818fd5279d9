internal import CNetlink
import SwitchModel

/// Decodes `RTM_NEWRULE` / `RTM_DELRULE` for IPv4 and IPv6 (`struct fib_rule_hdr` + `FRA_*`).
/// Attributes it does not model are recorded by type, so a rule using them is never
/// mistaken for a default rule.
enum RuleDecoder {
    /// The `FRA_*` types decoded into fields (or carrying nothing, `FRA_PAD`).
    private static let modelled: Set<Int32> = [
        Int32(FRA_DST), Int32(FRA_SRC), Int32(FRA_IIFNAME), Int32(FRA_GOTO), Int32(FRA_PRIORITY),
        Int32(FRA_FWMARK), Int32(FRA_FWMASK), Int32(FRA_TABLE), Int32(FRA_OIFNAME), Int32(FRA_PAD),
        Int32(FRA_L3MDEV), Int32(FRA_UID_RANGE), Int32(FRA_PROTOCOL), Int32(FRA_IP_PROTO),
        Int32(FRA_SPORT_RANGE), Int32(FRA_DPORT_RANGE), Int32(FRA_SUPPRESS_PREFIXLEN), Int32(FRA_SUPPRESS_IFGROUP),
    ]

    static func decode(_ message: NetlinkMessageView, emit: (KernelMessage) -> Void) throws {
        let header = try message.familyHeader(fib_rule_hdr.self)
        guard let family = AddressFamily(rawValue: header.family) else { return }
        let attrs = try message.attributes(familyHeaderSize: MemoryLayout<fib_rule_hdr>.size, maxType: CNL_FRA_MAX)
        func prefix(_ type: Int32, _ length: UInt8) throws -> IPPrefix? {
            guard length > 0 else { return nil }
            guard let a = try attrs.ipAddress(Int(type)), a.family == family, length <= family.bitWidth else {
                throw NetlinkDecodeError("rule prefix attribute \(type) missing or of another family (/\(length))")
            }
            return IPPrefix(address: a, length: length)
        }
        func range(_ type: Int32) throws -> RoutingRule.Range? {
            guard let raw = attrs.bytes(Int(type)) else { return nil }
            switch raw.count {
            case 4:
                let r = raw.loadUnaligned(as: fib_rule_port_range.self)
                return .init(start: UInt32(r.start), end: UInt32(r.end))
            case 8:
                let r = raw.loadUnaligned(as: fib_rule_uid_range.self)
                return .init(start: r.start, end: r.end)
            default:
                throw NetlinkDecodeError("rule range attribute \(type) has \(raw.count) bytes")
            }
        }
        // The kernel reports the suppressors' "unset" value, -1, on some versions.
        func unset(_ v: UInt32?) -> UInt32? { v == 0xFFFF_FFFF ? nil : v }
        var other: [UInt16] = []
        try message.forEachAttribute(familyHeaderSize: MemoryLayout<fib_rule_hdr>.size) { type in
            if !modelled.contains(type) { other.append(UInt16(type)) }
        }
        let rule = RoutingRule(
            family: family, priority: try attrs.u32(Int(FRA_PRIORITY)) ?? 0,
            table: RouteTable(rawValue: try attrs.u32(Int(FRA_TABLE)) ?? UInt32(header.table)),
            action: header.action, flags: header.flags,
            source: try prefix(Int32(FRA_SRC), header.src_len), destination: try prefix(Int32(FRA_DST), header.dst_len),
            tos: header.tos, inputInterface: attrs.string(Int(FRA_IIFNAME)), outputInterface: attrs.string(Int(FRA_OIFNAME)),
            fwmark: try attrs.u32(Int(FRA_FWMARK)), fwmask: try attrs.u32(Int(FRA_FWMASK)),
            l3mdev: (try attrs.u8(Int(FRA_L3MDEV)) ?? 0) != 0, gotoPriority: try attrs.u32(Int(FRA_GOTO)),
            suppressPrefixLength: try unset(attrs.u32(Int(FRA_SUPPRESS_PREFIXLEN))),
            suppressInterfaceGroup: try unset(attrs.u32(Int(FRA_SUPPRESS_IFGROUP))),
            protocolID: try attrs.u8(Int(FRA_PROTOCOL)) ?? 0, ipProtocol: try attrs.u8(Int(FRA_IP_PROTO)),
            sourcePorts: try range(Int32(FRA_SPORT_RANGE)), destinationPorts: try range(Int32(FRA_DPORT_RANGE)),
            uidRange: try range(Int32(FRA_UID_RANGE)), otherAttributes: other.sorted())
        emit(message.type == UInt16(RTM_DELRULE) ? .delRule(rule) : .newRule(rule))
    }
}

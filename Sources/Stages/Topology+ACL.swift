import SwitchDriver
import SwitchModel

/// A port's tc ingress filters as the chip's ingress ACL (`HardwarePortACL`), or why the
/// chip cannot apply them exactly — then the port's ingress stays on the CPU and the
/// kernel's tc classifies (Docs/Classification.md).
///
/// The kernel classifies a frame arriving on a port (`tcf_classify` from
/// `sch_handle_ingress`) with the port's filters in priority order; a filter whose
/// protocol is not the frame's (`skb_protocol`: a tagged frame's is its TPID) is skipped;
/// the first match's action decides. The chip does the same when every filter is one it
/// applies exactly: `flower` on MACs, EtherType, IP protocol, IPv4/IPv6 addresses and
/// TCP/UDP ports (any masks), or `matchall`; one `gact` verdict (`pass`, `drop`, `trap`)
/// or none; chain 0; not `skip_hw`; filters sharing a priority have the same masks (then at
/// most one of them matches a frame — flower refuses two equal keys — and their order is moot).
extension Topology {
    enum IngressACL: Equatable {
        /// No filter on the port's ingress.
        case none
        /// The chip applies these, in order.
        case rules([ACLRule])
        /// A filter the chip cannot apply exactly: the port's ingress is trapped.
        case trapped(String)
    }

    /// A link's ingress filters, judged once per change of them (`Topology.aclPlans`).
    enum ACLPlan: Equatable {
        case rules([ACLRule])
        /// The first filter (in the kernel's order) the chip cannot apply exactly, and why.
        case unsupported(priority: UInt16, kind: String, why: String)
        /// Filters at one priority whose masks differ.
        case masksDiffer(priority: UInt16)
    }

    func ingressACL(of link: IfIndex) -> IngressACL {
        guard let plan = aclPlans[link] else { return .none }
        let name = name(of: link)
        guard features.contains(.acl) else {
            let filters = tcFilters[link]?.values.filter(\.isIngress) ?? []
            let kinds = Set(filters.map { $0.kind.isEmpty ? "filter" : $0.kind }).sorted().joined(separator: "/")
            return .trapped("tc ingress filter \(kinds) on \(name) not offloaded")
        }
        switch plan {
        case .rules(let rules):
            return .rules(rules)
        case .unsupported(let priority, let kind, let why):
            return .trapped("tc ingress filter pref \(priority) \(kind) on \(name) not offloaded: \(why)")
        case .masksDiffer(let priority):
            return .trapped("tc ingress filters at pref \(priority) on \(name) not offloaded: their masks differ (the kernel orders them by its mask list)")
        }
    }

    /// The plan for a link's ingress `filters` (any order); nil for none.
    static func aclPlan(_ filters: [TCFilter]) -> ACLPlan? {
        guard !filters.isEmpty else { return nil }
        var rules: [ACLRule] = []
        rules.reserveCapacity(filters.count)
        // The first filter of each priority: the kind and masks the others there must share.
        var first: (priority: UInt16, kind: String, masks: [UInt64])?
        for f in filters.sorted(by: { $0.key < $1.key }) {
            if let why = aclProblem(f) { return .unsupported(priority: f.key.priority, kind: f.kind.isEmpty ? "filter" : f.kind, why: why) }
            let c = f.classifier!
            if let p = first, p.priority == f.key.priority {
                if p.kind != f.kind || p.masks != c.match.masks { return .masksDiffer(priority: f.key.priority) }
            } else {
                first = (f.key.priority, f.kind, c.match.masks)
            }
            rules.append(ACLRule(priority: f.key.priority, handle: f.key.handle, etherType: f.etherType, match: c.match, verdict: c.verdict))
        }
        return .rules(rules)
    }

    /// Why the chip cannot apply this filter exactly; nil when it can.
    static func aclProblem(_ f: TCFilter) -> String? {
        guard f.kind == "flower" || f.kind == "matchall" else { return "the chip's ACL takes flower and matchall" }
        guard let c = f.classifier else { return "options not decoded" }
        if let why = c.unsupported { return why }
        if c.chain != 0 { return "chain \(c.chain)" }
        if c.skipHardware { return "skip_hw" }
        let m = c.match
        switch f.etherType {
        case 0x0003:
            if m.ethType != 0 || m.matchesIP { return "protocol all with IP keys" }
        case 0x8100, 0x88A8, 0x9100:
            return "protocol 802.1Q"
        case ..<0x0600:
            // 802.3 frames carry a length there; the kernel's skb protocol for them (802_2, 802_3) is its own.
            return "protocol 0x\(String(f.etherType, radix: 16)) (not an EtherType)"
        default:
            if m.ethType != 0 && m.ethType != f.etherType { return "eth_type 0x\(String(m.ethType, radix: 16)) under protocol 0x\(String(f.etherType, radix: 16))" }
            let v4 = m.ipv4SrcMask != 0 || m.ipv4DstMask != 0
            let v6 = m.ipv6SrcMask != IPAddress(high: 0, low: 0) || m.ipv6DstMask != IPAddress(high: 0, low: 0)
            if m.matchesIP && f.etherType != 0x0800 && f.etherType != 0x86DD { return "IP keys under protocol 0x\(String(f.etherType, radix: 16))" }
            if (v4 && f.etherType != 0x0800) || (v6 && f.etherType != 0x86DD) { return "addresses of the other IP family" }
            if (m.srcPortMask != 0 || m.dstPortMask != 0) && (m.ipProtoMask != 0xFF || (m.ipProto != 6 && m.ipProto != 17)) {
                return "ports without ip_proto tcp or udp"
            }
        }
        return nil
    }
}

internal import CNetlink
import SwitchModel

/// Decodes `RTM_NEWQDISC` / `RTM_DELQDISC` and `RTM_NEWTFILTER` / `RTM_DELTFILTER`
/// (`struct tcmsg`, `TCA_KIND`). A `flower` or `matchall` filter's options are decoded
/// (`TCClassifierDecoder`: the chip's ingress ACL); other options (qdisc rates, other
/// classifiers) are not: the port direction they act on is trapped.
enum TrafficControlDecoder {
    static func decode(_ message: NetlinkMessageView, emit: (KernelMessage) -> Void) throws {
        let header = try message.familyHeader(tcmsg.self)
        let attrs = try message.attributes(familyHeaderSize: MemoryLayout<tcmsg>.size, maxType: CNL_TCA_MAX)
        let kind = attrs.string(Int(TCA_KIND)) ?? ""
        let interface = IfIndex(UInt32(bitPattern: header.tcm_ifindex))
        switch Int(message.type) {
        case RTM_NEWQDISC, RTM_DELQDISC:
            let q = Qdisc(interface: interface, handle: header.tcm_handle, parent: header.tcm_parent, kind: kind,
                          ingressBlock: try attrs.u32(Int(TCA_INGRESS_BLOCK)) ?? 0, egressBlock: try attrs.u32(Int(TCA_EGRESS_BLOCK)) ?? 0)
            emit(message.type == UInt16(RTM_NEWQDISC) ? .newQdisc(q) : .delQdisc(q))
        default:
            let key = TCFilter.Key(interface: interface, parent: header.tcm_parent, priority: UInt16(header.tcm_info >> 16),
                                   proto: UInt16(truncatingIfNeeded: header.tcm_info), handle: header.tcm_handle)
            var f = TCFilter(key: key, kind: kind)
            guard message.type == UInt16(RTM_NEWTFILTER) else { return emit(.delTCFilter(f)) }
            // A dump also lists each classifier instance without a handle (`tcf_fill_node`
            // with no filter) and u32's hash tables (node 0 of a handle): containers, never
            // announced on their own. Only filters are kept. (A delete with handle 0 is
            // meaningful: a whole priority.)
            if header.tcm_handle == 0 || (kind == "u32" && header.tcm_handle & 0xFFF == 0) { return }
            f.classifier = try TCClassifierDecoder.decode(kind: kind, attributes: attrs)
            emit(.newTCFilter(f))
        }
    }
}

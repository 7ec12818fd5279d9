import SwitchDriver
import SwitchModel

/// A port's ingress ACL as the chip holds it: the rules in order and a hit counter each.
struct PortACL {
    var object: HardwarePortACL
    var counters: [ACLRuleCounters]
}

/// What the ingress ACL decides for a frame.
enum ACLDecision {
    /// No rule matched, or the first match says `pass`: the frame goes on.
    case pass
    case drop
    case trap
    /// The frame's headers are ones the chip does not read as the kernel's flow dissector
    /// would (a fragment, IPv6 extension headers, a header cut short) and a rule looks at
    /// them: the CPU decides (the kernel's tc classifies the frame it receives).
    case unsure
}

extension SwitchChip {
    /// Classifies a frame arriving on port `p` with the port's ACL, as the kernel's
    /// `tcf_classify` does at the port's `clsact` ingress: rules in priority order; a rule
    /// whose protocol is not the frame's outermost EtherType is skipped; the first match
    /// counts the frame and decides.
    func classify(_ pf: ParsedFrame, length: Int, port p: Int) -> ACLDecision {
        guard var acl = acls[p] else { return .unsure }
        let outer = pf.tagCount > 0 ? pf.outerTPID : pf.etherType
        for (i, rule) in acl.object.rules.enumerated() where rule.etherType == 0x0003 || rule.etherType == outer {
            switch Self.matches(rule.match, pf) {
            case .some(false): continue
            case nil: return .unsure
            case .some(true):
                acl.counters[i].packets &+= 1
                acl.counters[i].bytes &+= UInt64(length)
                acls[p] = acl
                switch rule.verdict {
                case .pass: return .pass
                case .drop: return .drop
                case .trap: return .trap
                }
            }
        }
        return .pass
    }

    /// Whether `m` matches the frame; nil when the answer rests on headers the chip does
    /// not read as the kernel does.
    static func matches(_ m: FlowMatch, _ pf: ParsedFrame) -> Bool? {
        guard pf.dst & m.dstMACMask == m.dstMAC & m.dstMACMask, pf.src & m.srcMACMask == m.srcMAC & m.srcMACMask else { return false }
        guard m.matchesIP else { return true }
        // The rule's protocol is IPv4 or IPv6 and the frame untagged with that EtherType.
        let l4Keys = m.ipProtoMask != 0 || m.srcPortMask != 0 || m.dstPortMask != 0
        if l4Keys {
            // The dissector reads no ports from any fragment, and walks IPv6 extension headers its own way.
            if pf.isFragment || pf.hasMoreFragments { return nil }
            if pf.l3 == .ipv6, pf.ipHeaderLength != 40 { return nil }
        }
        switch pf.l3 {
        case .ipv4:
            guard pf.ipv4Src & m.ipv4SrcMask == m.ipv4Src & m.ipv4SrcMask,
                  pf.ipv4Dst & m.ipv4DstMask == m.ipv4Dst & m.ipv4DstMask else { return false }
        case .ipv6:
            guard pf.ipv6SrcHigh & m.ipv6SrcMask.high == m.ipv6Src.high & m.ipv6SrcMask.high,
                  pf.ipv6SrcLow & m.ipv6SrcMask.low == m.ipv6Src.low & m.ipv6SrcMask.low,
                  pf.ipv6DstHigh & m.ipv6DstMask.high == m.ipv6Dst.high & m.ipv6DstMask.high,
                  pf.ipv6DstLow & m.ipv6DstMask.low == m.ipv6Dst.low & m.ipv6DstMask.low else { return false }
        default:
            return nil
        }
        guard pf.ipProtocol & m.ipProtoMask == m.ipProto & m.ipProtoMask else { return false }
        if m.srcPortMask != 0 || m.dstPortMask != 0 {
            guard pf.l4Offset + 4 <= pf.length else { return nil }
            guard pf.srcPort & m.srcPortMask == m.srcPort & m.srcPortMask,
                  pf.dstPort & m.dstPortMask == m.dstPort & m.dstPortMask else { return false }
        }
        return true
    }

    /// Carries out the ingress ACL's decision for a frame arriving on port `p`; true when the
    /// frame goes on. A port whose ACL the chip does not hold sends everything to the CPU.
    func aclAllows<S: FrameSink>(_ frame: UnsafeRawBufferPointer, _ pf: ParsedFrame, port p: Int, _ sink: inout S) -> Bool {
        guard acls[p] != nil else {
            trap(frame, port: p, .portTrap, &sink)
            return false
        }
        switch classify(pf, length: frame.count, port: p) {
        case .pass: return true
        case .drop: drop(.aclDrop, port: p)
        case .trap: trap(frame, port: p, .aclTrap, &sink)
        case .unsure: trap(frame, port: p, .aclUnsure, &sink)
        }
        return false
    }

    /// Every rule's hits, by port, priority and handle.
    func aclCounters() -> [ACLRuleID: ACLRuleCounters] {
        var out: [ACLRuleID: ACLRuleCounters] = [:]
        for (_, acl) in acls {
            for (rule, c) in zip(acl.object.rules, acl.counters) {
                out[ACLRuleID(port: acl.object.port, priority: rule.priority, handle: rule.handle)] = c
            }
        }
        return out
    }
}

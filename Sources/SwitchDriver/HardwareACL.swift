import SwitchModel

/// One rule of a port's ingress ACL: a tc filter the chip applies itself.
///
/// The kernel counterpart is a `flower` or `matchall` filter on the port's `clsact` (or
/// `ingress`) ingress hook — what mlxsw, prestera and sparx5 program into their ingress
/// TCAM from `FLOW_CLS_REPLACE` (`struct flow_cls_offload`).
public struct ACLRule: Hashable, Sendable {
    /// The filter's priority (`pref`): lower first.
    public var priority: UInt16
    /// The filter's handle within its priority.
    public var handle: UInt32
    /// The filter's protocol in host order (`0x0800`; `0x0003`, `ETH_P_ALL`, for all): the
    /// frame's outermost EtherType (a VLAN tag's TPID for a tagged frame) must equal it.
    public var etherType: UInt16
    public var match: FlowMatch
    public var verdict: TCVerdict

    public init(priority: UInt16, handle: UInt32, etherType: UInt16, match: FlowMatch, verdict: TCVerdict) {
        self.priority = priority
        self.handle = handle
        self.etherType = etherType
        self.match = match
        self.verdict = verdict
    }

    /// `pref 10 handle 0x1 protocol ip flower ip_proto tcp dst_port 22 action drop`.
    public var description: String {
        "pref \(priority) handle 0x\(String(handle, radix: 16)) protocol \(Self.protocolName(etherType)) \(match.description) action \(verdict.rawValue)"
    }

    /// tc's name for a filter protocol (host order): `all`, `ip`, `ipv6`, `arp`, `802.1Q`, or hex.
    public static func protocolName(_ etherType: UInt16) -> String {
        switch etherType {
        case 0x0003: "all"
        case 0x0800: "ip"
        case 0x86DD: "ipv6"
        case 0x0806: "arp"
        case 0x8100: "802.1Q"
        case 0x88A8: "802.1ad"
        default: "0x" + String(etherType, radix: 16)
        }
    }
}

/// A port's ingress ACL: its rules in the kernel's order (priority, then handle). The chip
/// classifies every frame arriving on the port with them before anything else — before
/// link-local traps, VLAN filtering, STP and learning, as the kernel runs `clsact`
/// ingress before the bridge's `rx_handler`; the first match decides.
public struct HardwarePortACL: Hashable, Sendable {
    public var port: PortID
    public var rules: [ACLRule]

    public init(port: PortID, rules: [ACLRule]) {
        self.port = port
        self.rules = rules
    }
}

/// Hits of one ACL rule, as the chip counts them (`tc -s` shows only the kernel's own).
public struct ACLRuleCounters: Hashable, Sendable {
    public var packets: UInt64 = 0
    public var bytes: UInt64 = 0
    public init(packets: UInt64 = 0, bytes: UInt64 = 0) {
        self.packets = packets
        self.bytes = bytes
    }
}

/// The identity of an ACL rule's counters: its port, priority and handle.
public struct ACLRuleID: Hashable, Sendable, Comparable {
    public var port: PortID
    public var priority: UInt16
    public var handle: UInt32
    public init(port: PortID, priority: UInt16, handle: UInt32) {
        self.port = port
        self.priority = priority
        self.handle = handle
    }
    public static func < (a: ACLRuleID, b: ACLRuleID) -> Bool {
        (a.port.rawValue, a.priority, a.handle) < (b.port.rawValue, b.priority, b.handle)
    }
}

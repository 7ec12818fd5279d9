/// A policy routing rule: which table a packet is looked up in — what `ip rule` prints.
///
/// The kernel counterpart is `RTM_NEWRULE` / `RTM_DELRULE` (`struct fib_rule_hdr`,
/// `FRA_*`), sent to `RTNLGRP_IPV4_RULE` / `RTNLGRP_IPV6_RULE`. The kernel has no id for
/// a rule: it is its content, and two rules may be identical (the mirror counts them).
public struct RoutingRule: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// `FR_ACT_*`.
    public static let actionToTable: UInt8 = 1, actionGoto: UInt8 = 2, actionNop: UInt8 = 3
    public static let actionBlackhole: UInt8 = 6, actionUnreachable: UInt8 = 7, actionProhibit: UInt8 = 8
    /// `FIB_RULE_INVERT`: `ip rule add not …`.
    public static let invertFlag: UInt32 = 0x2

    /// A port or UID range (`struct fib_rule_port_range`, `struct fib_rule_uid_range`).
    public struct Range: Hashable, Sendable {
        public var start: UInt32
        public var end: UInt32
        public init(start: UInt32, end: UInt32) {
            self.start = start
            self.end = end
        }
    }

    public var family: AddressFamily
    /// `FRA_PRIORITY` (`pref`).
    public var priority: UInt32
    /// `FRA_TABLE`, else `fib_rule_hdr.table`.
    public var table: RouteTable
    /// `fib_rule_hdr.action` (`FR_ACT_*`).
    public var action: UInt8
    /// `fib_rule_hdr.flags` (`FIB_RULE_*`).
    public var flags: UInt32
    /// `FRA_SRC` / `src_len`, `FRA_DST` / `dst_len`; nil for "all".
    public var source: IPPrefix?
    public var destination: IPPrefix?
    /// `fib_rule_hdr.tos`.
    public var tos: UInt8
    /// `FRA_IIFNAME`, `FRA_OIFNAME`.
    public var inputInterface: String?
    public var outputInterface: String?
    /// `FRA_FWMARK`, `FRA_FWMASK`.
    public var fwmark: UInt32?
    public var fwmask: UInt32?
    /// `FRA_L3MDEV`: look up the table of the packet's VRF (the rule a VRF adds, pref 1000).
    public var l3mdev: Bool
    /// `FRA_GOTO`.
    public var gotoPriority: UInt32?
    /// `FRA_SUPPRESS_PREFIXLEN`, `FRA_SUPPRESS_IFGROUP` (absent when unset).
    public var suppressPrefixLength: UInt32?
    public var suppressInterfaceGroup: UInt32?
    /// `FRA_PROTOCOL` (`RTPROT_*`: 2 kernel for the default rules).
    public var protocolID: UInt8
    /// `FRA_IP_PROTO`, `FRA_SPORT_RANGE`, `FRA_DPORT_RANGE`, `FRA_UID_RANGE`.
    public var ipProtocol: UInt8?
    public var sourcePorts: Range?
    public var destinationPorts: Range?
    public var uidRange: Range?
    /// Types of the attributes this model does not decode (`FRA_TUN_ID`, `FRA_FLOW`, and
    /// selectors of newer kernels), sorted: a rule with any of them is never a default rule.
    public var otherAttributes: [UInt16]

    public init(family: AddressFamily, priority: UInt32, table: RouteTable, action: UInt8 = RoutingRule.actionToTable,
                flags: UInt32 = 0, source: IPPrefix? = nil, destination: IPPrefix? = nil, tos: UInt8 = 0,
                inputInterface: String? = nil, outputInterface: String? = nil, fwmark: UInt32? = nil,
                fwmask: UInt32? = nil, l3mdev: Bool = false, gotoPriority: UInt32? = nil,
                suppressPrefixLength: UInt32? = nil, suppressInterfaceGroup: UInt32? = nil, protocolID: UInt8 = 0,
                ipProtocol: UInt8? = nil, sourcePorts: Range? = nil, destinationPorts: Range? = nil,
                uidRange: Range? = nil, otherAttributes: [UInt16] = []) {
        self.family = family
        self.priority = priority
        self.table = table
        self.action = action
        self.flags = flags
        self.source = source
        self.destination = destination
        self.tos = tos
        self.inputInterface = inputInterface
        self.outputInterface = outputInterface
        self.fwmark = fwmark
        self.fwmask = fwmask
        self.l3mdev = l3mdev
        self.gotoPriority = gotoPriority
        self.suppressPrefixLength = suppressPrefixLength
        self.suppressInterfaceGroup = suppressInterfaceGroup
        self.protocolID = protocolID
        self.ipProtocol = ipProtocol
        self.sourcePorts = sourcePorts
        self.destinationPorts = destinationPorts
        self.uidRange = uidRange
        self.otherAttributes = otherAttributes
    }

    /// True when the rule selects every packet (no selector, not inverted).
    public var matchesAll: Bool {
        (source?.length ?? 0) == 0 && (destination?.length ?? 0) == 0 && tos == 0 && inputInterface == nil
            && outputInterface == nil && (fwmark ?? 0) == 0 && (fwmask ?? 0) == 0 && ipProtocol == nil
            && sourcePorts == nil && destinationPorts == nil && uidRange == nil && suppressPrefixLength == nil
            && suppressInterfaceGroup == nil && otherAttributes.isEmpty && flags & Self.invertFlag == 0
    }

    /// One of the rules every network namespace starts with — `0: from all lookup local`,
    /// `32766: from all lookup main`, `32767: from all lookup default` — or the rule the
    /// first VRF adds, `1000: from all lookup [l3mdev-table]`. Others can steer packets
    /// away from the main table.
    public var isDefault: Bool {
        guard matchesAll, action == Self.actionToTable else { return false }
        if l3mdev { return priority == 1000 }
        switch (priority, table) {
        case (0, .local), (32766, .main), (32767, .default): return true
        default: return false
        }
    }

    /// True for `32766: from all lookup main`, without which the kernel never reads the main table.
    public var isMainRule: Bool { isDefault && !l3mdev && table == .main }

    /// As `ip rule` prints it after the priority: `from 10.1.0.0/16 lookup 100`.
    public var selectorAndAction: String {
        var s: [String] = []
        if flags & Self.invertFlag != 0 { s.append("not") }
        s.append("from \(source.map { $0.length == 0 ? "all" : $0.description } ?? "all")")
        if let d = destination, d.length > 0 { s.append("to \(d)") }
        if tos != 0 { s.append("tos \(tos)") }
        if let m = fwmark, m != 0 || (fwmask ?? 0) != 0 {
            s.append("fwmark \(String(m, radix: 16, uppercase: false).withHexPrefix)"
                     + (fwmask.map { $0 == 0xFFFF_FFFF ? "" : "/" + String($0, radix: 16).withHexPrefix } ?? ""))
        }
        if let i = inputInterface { s.append("iif \(i)") }
        if let o = outputInterface { s.append("oif \(o)") }
        if let p = ipProtocol { s.append("ipproto \(p)") }
        if let r = sourcePorts { s.append("sport \(r.start == r.end ? "\(r.start)" : "\(r.start)-\(r.end)")") }
        if let r = destinationPorts { s.append("dport \(r.start == r.end ? "\(r.start)" : "\(r.start)-\(r.end)")") }
        if let r = uidRange { s.append("uidrange \(r.start)-\(r.end)") }
        if !otherAttributes.isEmpty { s.append("(attributes \(otherAttributes.map(String.init).joined(separator: ",")))") }
        switch action {
        case Self.actionToTable: s.append(l3mdev ? "lookup [l3mdev-table]" : "lookup \(table)")
        case Self.actionGoto: s.append("goto \(gotoPriority.map(String.init) ?? "none")")
        case Self.actionNop: s.append("nop")
        case Self.actionBlackhole: s.append("blackhole")
        case Self.actionUnreachable: s.append("unreachable")
        case Self.actionProhibit: s.append("prohibit")
        default: s.append("action \(action)")
        }
        if let p = suppressPrefixLength { s.append("suppress_prefixlength \(p)") }
        if let g = suppressInterfaceGroup { s.append("suppress_ifgroup \(g)") }
        return s.joined(separator: " ")
    }

    /// `ip rule 100: from 10.1.0.0/16 lookup 100`.
    public var description: String { "ip\(family == .ipv6 ? " -6" : "") rule \(priority): \(selectorAndAction)" }

    public static func < (a: RoutingRule, b: RoutingRule) -> Bool {
        (a.family.rawValue, a.priority, a.description) < (b.family.rawValue, b.priority, b.description)
    }
}

private extension String {
    var withHexPrefix: String { "0x" + self }
}

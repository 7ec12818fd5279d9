/// What a tc `flower` or `matchall` filter matches, as the kernel's flow dissector reads an
/// arriving frame (`fl_classify` → `skb_flow_dissect`, `struct fl_flow_key`): each field
/// is a value and a mask, and a frame matches when every masked field is equal. A zero
/// mask matches anything; a `matchall` filter has every mask zero.
///
/// The kernel counterparts are the `TCA_FLOWER_KEY_*` attributes and their `_MASK`s.
/// Addresses and ports are in host order (`10.0.0.1` is `0x0A00_0001`), MACs in
/// `MACAddress.rawValue` layout.
public struct FlowMatch: Hashable, Sendable {
    public var dstMAC: UInt64 = 0
    public var dstMACMask: UInt64 = 0
    public var srcMAC: UInt64 = 0
    public var srcMACMask: UInt64 = 0
    /// `TCA_FLOWER_KEY_ETH_TYPE` (the dissector's `n_proto`); 0 when absent.
    public var ethType: UInt16 = 0
    /// `TCA_FLOWER_KEY_IP_PROTO`; 0 mask when absent.
    public var ipProto: UInt8 = 0
    public var ipProtoMask: UInt8 = 0
    public var ipv4Src: UInt32 = 0
    public var ipv4SrcMask: UInt32 = 0
    public var ipv4Dst: UInt32 = 0
    public var ipv4DstMask: UInt32 = 0
    public var ipv6Src = IPAddress(high: 0, low: 0)
    public var ipv6SrcMask = IPAddress(high: 0, low: 0)
    public var ipv6Dst = IPAddress(high: 0, low: 0)
    public var ipv6DstMask = IPAddress(high: 0, low: 0)
    /// TCP or UDP ports (`TCA_FLOWER_KEY_{TCP,UDP}_{SRC,DST}` and their masks).
    public var srcPort: UInt16 = 0
    public var srcPortMask: UInt16 = 0
    public var dstPort: UInt16 = 0
    public var dstPortMask: UInt16 = 0

    public init() {}

    /// The masks alone: filters at one priority with equal masks can never both match a
    /// frame (flower refuses a second filter with the same key), so their order is moot.
    public var masks: [UInt64] {
        [dstMACMask, srcMACMask, UInt64(ethType != 0 ? 0xFFFF : 0), UInt64(ipProtoMask), UInt64(ipv4SrcMask), UInt64(ipv4DstMask),
         ipv6SrcMask.high, ipv6SrcMask.low, ipv6DstMask.high, ipv6DstMask.low, UInt64(srcPortMask), UInt64(dstPortMask)]
    }

    /// Whether a layer-3 or layer-4 field is matched (not only MACs and the EtherType).
    public var matchesIP: Bool {
        ipProtoMask != 0 || ipv4SrcMask != 0 || ipv4DstMask != 0 || ipv6SrcMask != IPAddress(high: 0, low: 0)
            || ipv6DstMask != IPAddress(high: 0, low: 0) || srcPortMask != 0 || dstPortMask != 0
    }

    /// `tc filter show`'s words for the match (`dst_mac 02:…/ff:… ip_proto tcp dst_port 22`).
    public var description: String {
        var out: [String] = []
        func mac(_ v: UInt64, _ m: UInt64) -> String {
            MACAddress(rawValue: v).description + (m == 0xFFFF_FFFF_FFFF ? "" : "/" + MACAddress(rawValue: m).description)
        }
        func v4(_ v: UInt32, _ m: UInt32) -> String {
            let length = m.nonzeroBitCount
            let contiguous = m == (length == 0 ? 0 : ~UInt32(0) << (32 - length))
            return IPAddress(ipv4: v).description + (length == 32 ? "" : "/" + (contiguous ? String(length) : IPAddress(ipv4: m).description))
        }
        if dstMACMask != 0 { out.append("dst_mac " + mac(dstMAC, dstMACMask)) }
        if srcMACMask != 0 { out.append("src_mac " + mac(srcMAC, srcMACMask)) }
        if ipProtoMask != 0 {
            out.append("ip_proto " + (ipProto == 6 ? "tcp" : ipProto == 17 ? "udp" : ipProto == 1 ? "icmp" : ipProto == 58 ? "icmpv6" : String(ipProto)))
        }
        if ipv4SrcMask != 0 { out.append("src_ip " + v4(ipv4Src, ipv4SrcMask)) }
        if ipv4DstMask != 0 { out.append("dst_ip " + v4(ipv4Dst, ipv4DstMask)) }
        if ipv6SrcMask != IPAddress(high: 0, low: 0) { out.append("src_ip \(ipv6Src)/\(ipv6SrcMask)") }
        if ipv6DstMask != IPAddress(high: 0, low: 0) { out.append("dst_ip \(ipv6Dst)/\(ipv6DstMask)") }
        if srcPortMask != 0 { out.append("src_port \(srcPort)" + (srcPortMask == 0xFFFF ? "" : "/0x" + String(srcPortMask, radix: 16))) }
        if dstPortMask != 0 { out.append("dst_port \(dstPort)" + (dstPortMask == 0xFFFF ? "" : "/0x" + String(dstPortMask, radix: 16))) }
        return out.isEmpty ? "all" : out.joined(separator: " ")
    }
}

/// What a filter does with a frame it matches: the generic action (`act_gact`) verdicts a
/// switch ACL can take.
public enum TCVerdict: String, Hashable, Sendable {
    /// `TC_ACT_OK`: classification ends; the frame goes on (bridged, routed).
    case pass
    /// `TC_ACT_SHOT`: dropped.
    case drop
    /// `TC_ACT_TRAP`: to the CPU only, never forwarded by hardware (in the kernel's own
    /// datapath, stolen: the frame goes no further).
    case trap
}

/// The decoded options of a `flower` or `matchall` filter (`TCA_OPTIONS`, its actions and
/// flags, `TCA_CHAIN`): what a chip ACL needs, or why a chip cannot do it exactly.
public struct TCClassifier: Hashable, Sendable {
    /// `TCA_CHAIN`: 0 unless the filter is in a chain reached by `goto chain`.
    public var chain: UInt32
    public var match: FlowMatch
    /// The single verdict of the action list (no actions: `pass`, as `tcf_exts_exec`).
    public var verdict: TCVerdict
    /// `TCA_CLS_FLAGS_SKIP_HW`: the operator keeps the filter out of hardware.
    public var skipHardware: Bool
    /// A key, action or option the chip cannot apply exactly (`flower key vlan_id`,
    /// `action mirred`), nil when it can.
    public var unsupported: String?

    public init(chain: UInt32 = 0, match: FlowMatch = FlowMatch(), verdict: TCVerdict = .pass,
                skipHardware: Bool = false, unsupported: String? = nil) {
        self.chain = chain
        self.match = match
        self.verdict = verdict
        self.skipHardware = skipHardware
        self.unsupported = unsupported
    }
}

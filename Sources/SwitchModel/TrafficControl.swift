/// A queueing discipline on an interface (`tc qdisc`).
///
/// The kernel counterpart is `RTM_NEWQDISC` / `RTM_DELQDISC` (`struct tcmsg`: `tcm_ifindex`,
/// `tcm_handle`, `tcm_parent`; `TCA_KIND`). Only what decides offload is kept: where the
/// qdisc hangs and its kind.
public struct Qdisc: Hashable, Sendable {
    public var key: Key
    /// `tcm_parent`: `TC_H_ROOT`, `TC_H_INGRESS` (also clsact), or a class.
    public var parent: UInt32
    /// `TCA_KIND`: `pfifo_fast`, `fq_codel`, `tbf`, `clsact`, `ingress`, …
    public var kind: String

    /// The identity: interface and handle (`tcm_handle`, major:minor).
    public struct Key: Hashable, Sendable, Comparable {
        public var interface: IfIndex
        public var handle: UInt32
        public init(interface: IfIndex, handle: UInt32) {
            self.interface = interface
            self.handle = handle
        }
        public static func < (a: Key, b: Key) -> Bool { (a.interface, a.handle) < (b.interface, b.handle) }
    }

    /// `TCA_INGRESS_BLOCK` / `TCA_EGRESS_BLOCK`: the shared filter block a `clsact` or
    /// `ingress` qdisc classifies with (`tc qdisc add … ingress_block 22 clsact`); 0: the
    /// device's own filters.
    public var ingressBlock: UInt32 = 0
    public var egressBlock: UInt32 = 0

    public init(interface: IfIndex, handle: UInt32, parent: UInt32, kind: String, ingressBlock: UInt32 = 0, egressBlock: UInt32 = 0) {
        key = Key(interface: interface, handle: handle)
        self.parent = parent
        self.kind = kind
        self.ingressBlock = ingressBlock
        self.egressBlock = egressBlock
    }

    /// `TC_H_ROOT`.
    public static let rootParent: UInt32 = 0xFFFF_FFFF
    /// `TC_H_INGRESS` (= `TC_H_CLSACT`): the parent of `ingress` and `clsact` qdiscs.
    public static let ingressParent: UInt32 = 0xFFFF_FFF1

    /// An `ingress` or `clsact` qdisc: the hook tc filters attach to.
    public var isClassifierHook: Bool { parent == Self.ingressParent }

    /// A qdisc the kernel attached by itself (`dev_activate`: `noqueue`, the default
    /// `pfifo_fast` / `fq_codel` / `mq` and `mq`'s children) has handle 0; one an operator
    /// added has a handle (`8001:` when not given).
    public var isDefault: Bool { key.handle == 0 }

    /// `1:0`-style, as `tc` prints handles.
    public static func handleText(_ h: UInt32) -> String { "\(String(h >> 16, radix: 16)):\(h & 0xFFFF == 0 ? "" : String(h & 0xFFFF, radix: 16))" }
}

/// A tc classifier (`tc filter`) on an interface's ingress or egress hook, or in a class.
///
/// The kernel counterpart is `RTM_NEWTFILTER` / `RTM_DELTFILTER` (`struct tcmsg`:
/// `tcm_ifindex`, `tcm_parent`, `tcm_handle`, `tcm_info` = priority << 16 | protocol;
/// `TCA_KIND`).
public struct TCFilter: Hashable, Sendable {
    public var key: Key
    /// `TCA_KIND`: `u32`, `matchall`, `flower`, `bpf`, …
    public var kind: String
    /// A `flower` or `matchall` filter's match, verdict and flags (nil for other kinds).
    public var classifier: TCClassifier?

    public struct Key: Hashable, Sendable, Comparable {
        public var interface: IfIndex
        /// `tcm_parent`: `ffff:fff2` (clsact/ingress ingress hook), `ffff:fff3` (clsact egress), or a qdisc/class.
        public var parent: UInt32
        public var priority: UInt16
        /// The ethertype, network order as the kernel keeps it.
        public var proto: UInt16
        public var handle: UInt32
        public init(interface: IfIndex, parent: UInt32, priority: UInt16, proto: UInt16, handle: UInt32) {
            self.interface = interface
            self.parent = parent
            self.priority = priority
            self.proto = proto
            self.handle = handle
        }
        public static func < (a: Key, b: Key) -> Bool {
            (a.interface, a.parent, a.priority, a.proto, a.handle) < (b.interface, b.parent, b.priority, b.proto, b.handle)
        }
    }

    public init(key: Key, kind: String, classifier: TCClassifier? = nil) {
        self.key = key
        self.kind = kind
        self.classifier = classifier
    }

    /// `ETH_P_ALL`, in `Key.proto`'s network order: the filter sees every frame.
    public static let allProtocols = UInt16(0x0003).bigEndian

    /// The protocol in host order (`0x0800`; `0x0003` for all).
    public var etherType: UInt16 { UInt16(bigEndian: key.proto) }

    /// `TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)`: the ingress hook of clsact (and ingress).
    public static let ingressHook: UInt32 = 0xFFFF_FFF2
    /// `TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS)`.
    public static let egressHook: UInt32 = 0xFFFF_FFF3

    public var isIngress: Bool { key.parent == Self.ingressHook || key.parent == Qdisc.ingressParent }
}

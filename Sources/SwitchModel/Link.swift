/// A network interface as the kernel reports it in `RTM_NEWLINK`.
///
/// Bridge, bridge-port and VXLAN details ride along as optional attribute groups, so one
/// value describes what `ip -d link show` prints for the interface.
public struct Link: Hashable, Sendable {
    public var index: IfIndex
    public var name: String
    public var kind: LinkKind
    /// `IFF_UP`: the administrative state the operator set.
    public var adminUp: Bool
    /// RFC 2863 operational state (`IFLA_OPERSTATE`).
    public var operState: OperState
    /// The raw `ifi_flags` (`IFF_*`), kept for iproute2-compatible flag lists.
    public var flags: UInt32
    public var mtu: UInt32
    /// `IFLA_ADDRESS`; nil for interfaces without a link-layer address.
    public var mac: MACAddress?
    /// `IFLA_MASTER`: the bridge (or other upper device) this interface is enslaved to.
    public var master: IfIndex?
    /// `IFLA_LINK`: the lower or peer interface, where the kernel reports one.
    public var link: IfIndex?
    /// Present when ``kind`` is `.bridge` (`IFLA_INFO_DATA`, `IFLA_BR_*`).
    public var bridge: BridgeAttributes?
    /// Present when the interface is a bridge port (`IFLA_INFO_SLAVE_DATA` or
    /// `IFLA_PROTINFO`, `IFLA_BRPORT_*`).
    public var bridgePort: BridgePortAttributes?
    /// Present when ``kind`` is `.vxlan` (`IFLA_INFO_DATA`, `IFLA_VXLAN_*`).
    public var vxlan: VXLANAttributes?
    /// A `vrf` device's routing table (`IFLA_VRF_TABLE`: `ip link add vrf-red type vrf table 10`).
    public var vrfTable: UInt32?
    /// A `macvlan` device's mode (`IFLA_MACVLAN_MODE`: `ip link add … type macvlan mode bridge`).
    public var macvlanMode: MACVLANMode?
    /// Present when ``kind`` is `.bond` (`IFLA_INFO_DATA`, `IFLA_BOND_*`).
    public var bond: BondAttributes?
    /// Present when the interface is a bond's slave (`IFLA_INFO_SLAVE_DATA`, `IFLA_BOND_SLAVE_*`).
    public var bondSlave: BondSlaveAttributes?
    /// `IFLA_PHYS_SWITCH_ID`: the switch ASIC a switchdev port belongs to, as iproute2
    /// prints it (`switchid 3412000000000000`, hex bytes); nil for other interfaces.
    public var physSwitchID: String?
    /// `IFLA_PHYS_PORT_NAME`: the port's name on its switch (`sw1p1`, `p1`, `pf0vf1`).
    public var physPortName: String?
    /// `IFLA_STATS64` when the message carried it. The mirror drops it (counters change
    /// without notifications, so they are not state); a link dump reads them.
    public var statistics: LinkStatistics?
    /// The VFs of an SR-IOV physical function (`IFLA_VFINFO_LIST`, requested with
    /// `RTEXT_FILTER_VF`); nil when the message carried none.
    public var vfs: [VFInfo]?

    public init(index: IfIndex, name: String, kind: LinkKind = .other(""), adminUp: Bool = false,
                operState: OperState = .unknown, flags: UInt32 = 0, mtu: UInt32 = 1500,
                mac: MACAddress? = nil, master: IfIndex? = nil, link: IfIndex? = nil,
                bridge: BridgeAttributes? = nil, bridgePort: BridgePortAttributes? = nil,
                vxlan: VXLANAttributes? = nil) {
        self.index = index
        self.name = name
        self.kind = kind
        self.adminUp = adminUp
        self.operState = operState
        self.flags = flags
        self.mtu = mtu
        self.mac = mac
        self.master = master
        self.link = link
        self.bridge = bridge
        self.bridgePort = bridgePort
        self.vxlan = vxlan
    }

    /// A port of a switchdev switch (it has a physical switch id).
    public var isSwitchdevPort: Bool { physSwitchID != nil }

    /// `IFF_LOWER_UP`: the carrier is present.
    public var carrier: Bool { flags & 0x10000 != 0 }
    public var isBridgePort: Bool { bridgePort != nil }
}

/// A link's packet and byte counters.
///
/// The kernel counterpart is `struct rtnl_link_stats64` (`IFLA_STATS64`), what `ip -s link` prints.
public struct LinkStatistics: Hashable, Sendable {
    public var rxPackets: UInt64
    public var txPackets: UInt64
    public var rxBytes: UInt64
    public var txBytes: UInt64
    public var rxErrors: UInt64
    public var txErrors: UInt64
    public var rxDropped: UInt64
    public var txDropped: UInt64

    public init(rxPackets: UInt64 = 0, txPackets: UInt64 = 0, rxBytes: UInt64 = 0, txBytes: UInt64 = 0,
                rxErrors: UInt64 = 0, txErrors: UInt64 = 0, rxDropped: UInt64 = 0, txDropped: UInt64 = 0) {
        self.rxPackets = rxPackets
        self.txPackets = txPackets
        self.rxBytes = rxBytes
        self.txBytes = txBytes
        self.rxErrors = rxErrors
        self.txErrors = txErrors
        self.rxDropped = rxDropped
        self.txDropped = txDropped
    }
}

/// What kind of device a link is, from `IFLA_INFO_KIND` (and `IFLA_TUN_TYPE` for tun/tap).
public enum LinkKind: Hashable, Sendable, CustomStringConvertible {
    case bridge
    case vxlan
    case veth
    case tap
    case tun
    case macvlan
    /// A bond (`ip link add bond0 type bond mode 802.3ad`): link aggregation.
    case bond
    /// An L3 master device (`ip link add vrf-red type vrf table 10`).
    case vrf
    case loopback
    /// Any other kind; the payload is the kernel's `IFLA_INFO_KIND` string ("" when absent).
    case other(String)

    /// Maps the kernel's `IFLA_INFO_KIND` string.
    public init(infoKind: String) {
        switch infoKind {
        case "bridge": self = .bridge
        case "vxlan": self = .vxlan
        case "veth": self = .veth
        case "tap": self = .tap
        case "tun": self = .tun
        case "macvlan": self = .macvlan
        case "bond": self = .bond
        case "vrf": self = .vrf
        default: self = .other(infoKind)
        }
    }

    /// The kind as iproute2's `info_kind` prints it (tap devices print as `tun`).
    public var infoKind: String? {
        switch self {
        case .bridge: "bridge"
        case .vxlan: "vxlan"
        case .veth: "veth"
        case .tap, .tun: "tun"
        case .macvlan: "macvlan"
        case .bond: "bond"
        case .vrf: "vrf"
        case .loopback: nil
        case .other(let s): s.isEmpty ? nil : s
        }
    }

    public var description: String {
        switch self {
        case .tap: "tap"
        case .loopback: "loopback"
        case .other(let s): s.isEmpty ? "other" : s
        default: infoKind ?? "other"
        }
    }
}

/// How a macvlan shares its lower device (`enum macvlan_mode`, `IFLA_MACVLAN_MODE`).
/// Frames from the lower to a macvlan's MAC reach that macvlan in every mode but
/// `passthru` (one macvlan takes everything) and `source` (chosen by source MAC); the
/// modes differ in what the macvlans send each other.
public enum MACVLANMode: UInt32, Hashable, Sendable, CustomStringConvertible {
    case `private` = 1, vepa = 2, bridge = 4, passthru = 8, source = 16

    /// iproute2's word (`ip -d link`: `macvlan mode bridge`).
    public var description: String {
        switch self {
        case .private: "private"
        case .vepa: "vepa"
        case .bridge: "bridge"
        case .passthru: "passthru"
        case .source: "source"
        }
    }
}

/// RFC 2863 operational state.
///
/// The kernel counterpart is `IFLA_OPERSTATE` (`IF_OPER_*`).
public enum OperState: UInt8, Hashable, Sendable, CustomStringConvertible {
    case unknown = 0, notPresent = 1, down = 2, lowerLayerDown = 3, testing = 4, dormant = 5, up = 6

    /// iproute2's spelling (`"UP"`, `"LOWERLAYERDOWN"`, …).
    public var description: String {
        switch self {
        case .unknown: "UNKNOWN"
        case .notPresent: "NOTPRESENT"
        case .down: "DOWN"
        case .lowerLayerDown: "LOWERLAYERDOWN"
        case .testing: "TESTING"
        case .dormant: "DORMANT"
        case .up: "UP"
        }
    }
}

/// One virtual function of an SR-IOV physical function, as the PF's driver holds its
/// configuration — what `ip link show PF` prints as a `vf N …` line.
///
/// The kernel counterpart is one `IFLA_VF_INFO` in the PF's `IFLA_VFINFO_LIST` (`struct
/// ifla_vf_info` from `ndo_get_vf_config`): `IFLA_VF_MAC`, `_VLAN` (with QoS), `_VLAN_LIST`
/// (the protocol), `_SPOOFCHK`, `_TRUST`, `_LINK_STATE`, `_RATE`. The kernel reports the
/// list only when a link request asks for it (`IFLA_EXT_MASK` with `RTEXT_FILTER_VF`).
public struct VFInfo: Hashable, Sendable {
    /// The VF number, from 0.
    public var index: UInt32
    public var mac: MACAddress
    /// The port VLAN the NIC tags the VF's traffic with; 0 for none.
    public var vlan: UInt16
    /// The 802.1p priority of that tag, 0–7.
    public var qos: UInt8
    /// The tag's protocol: 0x8100 (802.1Q) or 0x88a8 (802.1ad).
    public var vlanProtocol: UInt16
    /// The NIC drops frames the VF sends with a source MAC other than its own.
    public var spoofCheck: Bool
    /// The VF may change its MAC and use promiscuous modes.
    public var trust: Bool
    public var linkState: VFLinkState
    /// Guaranteed and maximum transmit rates in Mbit/s; 0 for none.
    public var minTxRate: UInt32
    public var maxTxRate: UInt32

    public init(index: UInt32, mac: MACAddress = .zero, vlan: UInt16 = 0, qos: UInt8 = 0, vlanProtocol: UInt16 = 0x8100,
                spoofCheck: Bool = false, trust: Bool = false, linkState: VFLinkState = .auto,
                minTxRate: UInt32 = 0, maxTxRate: UInt32 = 0) {
        self.index = index
        self.mac = mac
        self.vlan = vlan
        self.qos = qos
        self.vlanProtocol = vlanProtocol
        self.spoofCheck = spoofCheck
        self.trust = trust
        self.linkState = linkState
        self.minTxRate = minTxRate
        self.maxTxRate = maxTxRate
    }
}

/// A VF's link state as its PF forces it.
///
/// The kernel counterpart is `IFLA_VF_LINK_STATE_AUTO` / `_ENABLE` / `_DISABLE`
/// (`ip link set PF vf N state auto|enable|disable`).
public enum VFLinkState: UInt32, Hashable, Sendable, CustomStringConvertible {
    /// The VF's link follows the PF's.
    case auto = 0
    case enable = 1
    case disable = 2

    /// iproute2's word.
    public var description: String {
        switch self {
        case .auto: "auto"
        case .enable: "enable"
        case .disable: "disable"
        }
    }
}

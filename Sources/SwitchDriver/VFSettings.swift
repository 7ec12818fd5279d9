import SwitchModel

/// One virtual function of an SR-IOV NIC's physical function, with the settings the NIC
/// enforces for it in its eswitch: MAC, port VLAN, spoof check, trust, link state, rates.
///
/// The kernel counterparts are `ip link set PF vf N mac … vlan … qos … spoofchk … trust …
/// state …` (`IFLA_VFINFO_LIST` on the PF, the driver's `ndo_set_vf_*`) and, in switchdev
/// mode, `devlink port function rate set DEV/PORT tx_share … tx_max …` on the VF's
/// representor port.
public struct VFSettings: Hashable, Sendable {
    /// The physical function: a port of the SR-IOV driver.
    public var pf: PortID
    /// The VF's number and settings, as the kernel reports them (`IFLA_VF_INFO`).
    public var info: VFInfo

    public init(pf: PortID, info: VFInfo) {
        self.pf = pf
        self.info = info
    }

    public var index: UInt32 { info.index }

    /// `mac 02:00:00:00:00:10 vlan 10 qos 3 spoofchk on trust on state enable max_tx_rate 10`,
    /// in `ip link` words; defaults left out.
    public var settingsDescription: String {
        let i = info
        var words = ["mac \(i.mac)"]
        if i.vlan != 0 {
            words.append("vlan \(i.vlan)")
            if i.qos != 0 { words.append("qos \(i.qos)") }
            if i.vlanProtocol != 0x8100 { words.append("proto 802.1ad") }
        }
        words.append("spoofchk \(i.spoofCheck ? "on" : "off")")
        words.append("trust \(i.trust ? "on" : "off")")
        words.append("state \(i.linkState)")
        if i.minTxRate != 0 { words.append("min_tx_rate \(i.minTxRate)") }
        if i.maxTxRate != 0 { words.append("max_tx_rate \(i.maxTxRate)") }
        return words.joined(separator: " ")
    }
}

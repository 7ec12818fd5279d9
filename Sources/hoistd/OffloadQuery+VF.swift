import Rendering
import SwitchDriver
import SwitchModel

extension OffloadQuery {
    /// A VF's row fields for `hoist show vfs`, in the words of `ip -j link show PF`'s
    /// `vfinfo_list` (flattened): the PF's interface, VF number, MAC, VLAN, QoS, protocol,
    /// spoof check, trust, link state, and the rates in Mbit/s.
    func vfFields(_ v: VFSettings) -> [(String, JSONValue)] {
        let pf = daemon.driver.capabilities.ports.first { $0.id == v.pf }?.name ?? v.pf.description
        let i = v.info
        return [("ifname", .string(pf)), ("vf", .int(Int64(i.index))), ("address", .string(i.mac.description)),
                ("vlan", .int(Int64(i.vlan))), ("qos", .int(Int64(i.qos))),
                ("protocol", .string(i.vlanProtocol == 0x88a8 ? "802.1ad" : "802.1Q")),
                ("spoofchk", .bool(i.spoofCheck)), ("trust", .bool(i.trust)), ("link_state", .string(i.linkState.description)),
                ("min_tx_rate", .int(Int64(i.minTxRate))), ("max_tx_rate", .int(Int64(i.maxTxRate)))]
    }
}

internal import CNetlink
import SwitchModel

/// The VF knobs of an SR-IOV PF, one request each, so a refusal names its knob.
public enum VFKnob: String, Sendable, CaseIterable {
    case mac, vlan, spoofchk, trust, state, rate
}

extension KernelRequest {
    /// One VF knob as `ip link set PF vf N …` writes it: `RTM_SETLINK` on the PF with
    /// `IFLA_VFINFO_LIST` → `IFLA_VF_INFO` → `IFLA_VF_MAC` (`mac`), `IFLA_VF_VLAN` or, for
    /// 802.1ad, `IFLA_VF_VLAN_LIST` (`vlan … qos … proto`), `IFLA_VF_SPOOFCHK`,
    /// `IFLA_VF_TRUST`, `IFLA_VF_LINK_STATE` (`state`), `IFLA_VF_RATE` (`min_tx_rate`,
    /// `max_tx_rate`). Every record starts with the VF number.
    public static func setVF(pf: IfIndex, _ vf: VFInfo, _ knob: VFKnob) -> NetlinkMessageBuilder {
        var header = ifinfomsg()
        header.ifi_family = UInt8(AF_UNSPEC)
        header.ifi_index = Int32(bitPattern: pf.rawValue)
        let b = NetlinkMessageBuilder(type: UInt16(RTM_SETLINK), capacity: 512).append(header: DumpKind.bytes(of: header))
        b.nest(Int(IFLA_VFINFO_LIST)) { list in
            list.nest(Int(IFLA_VF_INFO)) { info in
                switch knob {
                case .mac:
                    var m = ifla_vf_mac()
                    m.vf = vf.index
                    withUnsafeMutableBytes(of: &m.mac) { raw in
                        for (i, byte) in vf.mac.bytes.enumerated() { raw[i] = byte }
                    }
                    info.put(Int(IFLA_VF_MAC), bytes: DumpKind.bytes(of: m))
                case .vlan where vf.vlanProtocol != 0x8100:
                    info.nest(Int(IFLA_VF_VLAN_LIST)) { l in
                        let v = ifla_vf_vlan_info(vf: vf.index, vlan: UInt32(vf.vlan), qos: UInt32(vf.qos), vlan_proto: vf.vlanProtocol.bigEndian)
                        l.put(Int(IFLA_VF_VLAN_INFO), bytes: DumpKind.bytes(of: v))
                    }
                case .vlan:
                    info.put(Int(IFLA_VF_VLAN), bytes: DumpKind.bytes(of: ifla_vf_vlan(vf: vf.index, vlan: UInt32(vf.vlan), qos: UInt32(vf.qos))))
                case .spoofchk:
                    info.put(Int(IFLA_VF_SPOOFCHK), bytes: DumpKind.bytes(of: ifla_vf_spoofchk(vf: vf.index, setting: vf.spoofCheck ? 1 : 0)))
                case .trust:
                    info.put(Int(IFLA_VF_TRUST), bytes: DumpKind.bytes(of: ifla_vf_trust(vf: vf.index, setting: vf.trust ? 1 : 0)))
                case .state:
                    info.put(Int(IFLA_VF_LINK_STATE), bytes: DumpKind.bytes(of: ifla_vf_link_state(vf: vf.index, link_state: vf.linkState.rawValue)))
                case .rate:
                    info.put(Int(IFLA_VF_RATE), bytes: DumpKind.bytes(of: ifla_vf_rate(vf: vf.index, min_tx_rate: vf.minTxRate, max_tx_rate: vf.maxTxRate)))
                }
            }
        }
        return b
    }

    /// One interface with its VFs — `ip -d link show dev PF`: `RTM_GETLINK` for the index
    /// with `IFLA_EXT_MASK` `RTEXT_FILTER_VF`. Send it with `NetlinkChannel.get`.
    public static func getLink(_ index: IfIndex) -> NetlinkMessageBuilder {
        var header = ifinfomsg()
        header.ifi_family = UInt8(AF_UNSPEC)
        header.ifi_index = Int32(bitPattern: index.rawValue)
        return NetlinkMessageBuilder(type: UInt16(RTM_GETLINK), capacity: 256)
            .append(header: DumpKind.bytes(of: header))
            .put(Int(IFLA_EXT_MASK), u32: UInt32(RTEXT_FILTER_VF))
    }

    /// The same by name (`IFLA_IFNAME`), resolved in the channel's namespace.
    public static func getLink(named name: String) -> NetlinkMessageBuilder {
        var header = ifinfomsg()
        header.ifi_family = UInt8(AF_UNSPEC)
        return NetlinkMessageBuilder(type: UInt16(RTM_GETLINK), capacity: 256)
            .append(header: DumpKind.bytes(of: header))
            .put(Int(IFLA_IFNAME), string: name)
            .put(Int(IFLA_EXT_MASK), u32: UInt32(RTEXT_FILTER_VF))
    }
}

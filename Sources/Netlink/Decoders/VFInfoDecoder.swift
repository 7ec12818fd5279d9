internal import CNetlink
import SwitchModel

/// Decodes an SR-IOV PF's `IFLA_VFINFO_LIST`: one `IFLA_VF_INFO` nest per VF, each holding
/// the fixed `struct ifla_vf_*` records of `ndo_get_vf_config` (every record starts with
/// the VF number).
enum VFInfoDecoder {
    /// The VFs in a link message; nil when it has no `IFLA_VFINFO_LIST` or an empty one
    /// (a PF with 0 VFs, or a request without `RTEXT_FILTER_VF`).
    static func vfs(in attrs: NetlinkAttributes) throws -> [VFInfo]? {
        guard let list = attrs.attribute(Int(IFLA_VFINFO_LIST)) else { return nil }
        var out: [VFInfo] = []
        try list.forEachNested { entry in
            guard entry.type == Int32(IFLA_VF_INFO) else { return }
            out.append(try vf(entry.nested(maxType: CNL_IFLA_VF_MAX)))
        }
        return out.isEmpty ? nil : out
    }

    static func vf(_ a: NetlinkAttributes) throws -> VFInfo {
        guard let mac = try a.attribute(Int(IFLA_VF_MAC))?.load(ifla_vf_mac.self) else {
            throw NetlinkDecodeError("IFLA_VF_INFO without IFLA_VF_MAC")
        }
        var vf = VFInfo(index: mac.vf)
        vf.mac = withUnsafeBytes(of: mac.mac) { MACAddress(bytes: UnsafeRawBufferPointer(rebasing: $0.prefix(6))) } ?? .zero
        if let v = try a.attribute(Int(IFLA_VF_VLAN))?.load(ifla_vf_vlan.self) {
            guard v.vlan <= 4095, v.qos <= 7 else { throw NetlinkDecodeError("VF \(vf.index) vlan \(v.vlan) qos \(v.qos) out of range") }
            vf.vlan = UInt16(v.vlan)
            vf.qos = UInt8(v.qos)
        }
        // IFLA_VF_VLAN_LIST holds the same VLAN with its protocol (802.1Q or 802.1ad); a VF
        // never given a VLAN reports protocol 0 (netdevsim), which means 802.1Q.
        if let list = a.attribute(Int(IFLA_VF_VLAN_LIST)) {
            try list.forEachNested { info in
                guard info.type == Int32(IFLA_VF_VLAN_INFO) else { return }
                let proto = UInt16(bigEndian: try info.load(ifla_vf_vlan_info.self).vlan_proto)
                vf.vlanProtocol = proto == 0 ? 0x8100 : proto
            }
        }
        if let s = try a.attribute(Int(IFLA_VF_SPOOFCHK))?.load(ifla_vf_spoofchk.self) { vf.spoofCheck = s.setting != 0 }
        if let t = try a.attribute(Int(IFLA_VF_TRUST))?.load(ifla_vf_trust.self) { vf.trust = t.setting != 0 }
        if let l = try a.attribute(Int(IFLA_VF_LINK_STATE))?.load(ifla_vf_link_state.self) {
            guard let state = VFLinkState(rawValue: l.link_state) else { throw NetlinkDecodeError("VF \(vf.index) link state \(l.link_state)") }
            vf.linkState = state
        }
        if let r = try a.attribute(Int(IFLA_VF_RATE))?.load(ifla_vf_rate.self) {
            vf.minTxRate = r.min_tx_rate
            vf.maxTxRate = r.max_tx_rate
        }
        return vf
    }
}

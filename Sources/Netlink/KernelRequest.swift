internal import CNetlink
import SwitchModel

/// Requests Hoist makes of the kernel, built in the kernel's format. Send them with
/// `NetlinkChannel.request` (one, with ACK) or `sendBatch` (many, without).
public enum KernelRequest {
    /// A MAC the switch chip learned, written to the bridge's FDB as `extern_learn` (and
    /// replaced when it moves) — `bridge fdb replace MAC dev PORT master extern_learn
    /// [vlan VID]`. The corresponding netlink message is AF_BRIDGE `RTM_NEWNEIGH` with
    /// `NTF_MASTER | NTF_EXT_LEARNED`, `NUD_REACHABLE`, `NDA_LLADDR` and `NDA_VLAN`.
    public static func addExternLearnedFDB(port: IfIndex, mac: MACAddress, vlan: VLANID) -> NetlinkMessageBuilder {
        fdb(type: UInt16(RTM_NEWNEIGH), flags: UInt16(NLM_F_CREATE | NLM_F_REPLACE), port: port, mac: mac, vlan: vlan)
    }

    /// Removes a bridge FDB entry — `bridge fdb del MAC dev PORT master [vlan VID]`: AF_BRIDGE
    /// `RTM_DELNEIGH` with `NTF_MASTER`.
    public static func deleteFDB(port: IfIndex, mac: MACAddress, vlan: VLANID) -> NetlinkMessageBuilder {
        fdb(type: UInt16(RTM_DELNEIGH), flags: 0, port: port, mac: mac, vlan: vlan)
    }

    private static func fdb(type: UInt16, flags: UInt16, port: IfIndex, mac: MACAddress, vlan: VLANID) -> NetlinkMessageBuilder {
        var header = ndmsg()
        header.ndm_family = UInt8(AF_BRIDGE)
        header.ndm_ifindex = Int32(bitPattern: port.rawValue)
        header.ndm_state = UInt16(NUD_REACHABLE)
        header.ndm_flags = UInt8(NTF_MASTER | NTF_EXT_LEARNED)
        let b = NetlinkMessageBuilder(type: type, flags: flags, capacity: 256)
            .append(header: DumpKind.bytes(of: header))
            .put(Int(NDA_LLADDR), bytes: mac.bytes)
        if vlan != .none { b.put(Int(NDA_VLAN), u16: vlan.rawValue) }
        return b
    }
}

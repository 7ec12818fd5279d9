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

    /// A MAC the chip learned behind a VXLAN tunnel, written where the kernel keeps it —
    /// the vxlan device's own entry with the remote VTEP, and the bridge's entry on the
    /// vxlan port — both `extern_learn`: `bridge fdb replace MAC dev VXLAN dst REMOTE self
    /// extern_learn` and `bridge fdb replace MAC dev VXLAN master extern_learn` (mlxsw's
    /// `SWITCHDEV_VXLAN_FDB_ADD_TO_BRIDGE`). Two AF_BRIDGE `RTM_NEWNEIGH` messages; the
    /// bridge's entry in `vlan` (the tunnel's VLAN in a VLAN-filtering bridge).
    ///
    /// The device's entry also carries `NTF_OFFLOADED` (`offload`, as mlxsw's learned VXLAN
    /// entries show): the vxlan driver keeps the flag it is given, and it is what tells this
    /// write-back from the remote MACs FRR's zebra installs the same way but without it
    /// (`FDBEntry.isDriverWriteBack`).
    public static func addExternLearnedVXLANFDB(device: IfIndex, mac: MACAddress, remote: IPAddress,
                                                vlan: VLANID = .none) -> [NetlinkMessageBuilder] {
        let create = UInt16(NLM_F_CREATE | NLM_F_REPLACE)
        return [fdb(type: UInt16(RTM_NEWNEIGH), flags: create, port: device, mac: mac, vlan: .none, remote: remote, offloaded: true),
                fdb(type: UInt16(RTM_NEWNEIGH), flags: create, port: device, mac: mac, vlan: vlan)]
    }

    /// Removes both entries `addExternLearnedVXLANFDB` wrote (`RTM_DELNEIGH`, self with
    /// `NDA_DST` and master).
    public static func deleteVXLANFDB(device: IfIndex, mac: MACAddress, remote: IPAddress,
                                      vlan: VLANID = .none) -> [NetlinkMessageBuilder] {
        [fdb(type: UInt16(RTM_DELNEIGH), flags: 0, port: device, mac: mac, vlan: .none, remote: remote),
         fdb(type: UInt16(RTM_DELNEIGH), flags: 0, port: device, mac: mac, vlan: vlan)]
    }

    /// An AF_BRIDGE neighbour message: the bridge's entry (`NTF_MASTER`), or with `remote`
    /// the device's own entry (`NTF_SELF`, `NDA_DST`); both `NTF_EXT_LEARNED`.
    private static func fdb(type: UInt16, flags: UInt16, port: IfIndex, mac: MACAddress, vlan: VLANID,
                            remote: IPAddress? = nil, offloaded: Bool = false) -> NetlinkMessageBuilder {
        var header = ndmsg()
        header.ndm_family = UInt8(AF_BRIDGE)
        header.ndm_ifindex = Int32(bitPattern: port.rawValue)
        header.ndm_state = UInt16(NUD_REACHABLE)
        header.ndm_flags = UInt8((remote == nil ? NTF_MASTER : NTF_SELF) | NTF_EXT_LEARNED | (offloaded ? NTF_OFFLOADED : 0))
        let b = NetlinkMessageBuilder(type: type, flags: flags, capacity: 256)
            .append(header: DumpKind.bytes(of: header))
            .put(Int(NDA_LLADDR), bytes: mac.bytes)
        if vlan != .none { b.put(Int(NDA_VLAN), u16: vlan.rawValue) }
        if let remote { b.put(Int(NDA_DST), bytes: remote.isIPv4 ? Array(remote.bytes.suffix(4)) : remote.bytes) }
        return b
    }
}

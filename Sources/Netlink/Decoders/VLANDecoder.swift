internal import CNetlink
import SwitchModel

/// Decodes `RTM_NEWVLAN` / `RTM_DELVLAN` (the per-VLAN API, `bridge vlan` with
/// `vlan_filtering 1`): `struct br_vlan_msg` then repeated `BRIDGE_VLANDB_ENTRY` nests with
/// `_INFO` (`struct bridge_vlan_info`), `_RANGE` (the last VID of a range) and `_STATE`.
/// Global-options entries (`BRIDGE_VLANDB_GLOBAL_OPTIONS`) are skipped.
enum VLANDecoder {
    static func decode(_ message: NetlinkMessageView, emit: (KernelMessage) -> Void) throws {
        let header = try message.familyHeader(br_vlan_msg.self)
        let port = IfIndex(header.ifindex)
        let isNew = message.type == UInt16(RTM_NEWVLAN)
        // Entries repeat at the top level, so walk them in order rather than by type.
        // (familyHeader above already checked the payload holds a br_vlan_msg.)
        let attrs = UnsafeRawBufferPointer(rebasing: message.payload[MemoryLayout<br_vlan_msg>.size...])
        var offset = 0
        while offset + 4 <= attrs.count {
            let length = Int(attrs.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            let type = Int(attrs.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self)) & 0x3FFF
            guard length >= 4, offset + length <= attrs.count else {
                throw NetlinkDecodeError("RTM_NEWVLAN attribute length \(length) at offset \(offset)")
            }
            if type == Int(BRIDGE_VLANDB_ENTRY) {
                let entry = try NetlinkAttributes.parse(UnsafeRawBufferPointer(rebasing: attrs[(offset + 4)..<(offset + length)]),
                                                        maxType: CNL_BRIDGE_VLANDB_ENTRY_MAX, context: "BRIDGE_VLANDB_ENTRY")
                for vlan in try decodeEntry(entry) {
                    let v = BridgeVLAN(port: port, vlan: vlan)
                    emit(isNew ? .newVLAN(v) : .delVLAN(v))
                }
            }
            offset += (length + 3) & ~3
        }
        if offset < attrs.count { throw NetlinkDecodeError("RTM_NEWVLAN has \(attrs.count - offset) trailing bytes") }
    }

    private static func decodeEntry(_ entry: NetlinkAttributes) throws -> [PortVLAN] {
        guard let infoAttr = entry.attribute(Int(BRIDGE_VLANDB_ENTRY_INFO)) else {
            throw NetlinkDecodeError("BRIDGE_VLANDB_ENTRY without _INFO")
        }
        let info = try infoAttr.load(bridge_vlan_info.self)
        let last = try entry.u16(Int(BRIDGE_VLANDB_ENTRY_RANGE)) ?? info.vid
        guard (1...4094).contains(info.vid), (info.vid...4094).contains(last) else {
            throw NetlinkDecodeError("VLAN range \(info.vid)-\(last) out of range")
        }
        var state: STPState?
        if let s = try entry.u8(Int(BRIDGE_VLANDB_ENTRY_STATE)) {
            guard let st = STPState(rawValue: s) else { throw NetlinkDecodeError("VLAN STP state \(s) out of range") }
            state = st
        }
        return (info.vid...last).map {
            PortVLAN(vid: VLANID(integerLiteral: $0), pvid: info.flags & UInt16(BRIDGE_VLAN_INFO_PVID) != 0,
                     untagged: info.flags & UInt16(BRIDGE_VLAN_INFO_UNTAGGED) != 0, state: state)
        }
    }
}

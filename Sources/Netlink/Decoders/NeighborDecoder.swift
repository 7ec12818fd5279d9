internal import CNetlink
import SwitchModel

/// Decodes `RTM_NEWNEIGH` / `RTM_DELNEIGH`: bridge FDB entries (AF_BRIDGE) and IPv4/IPv6
/// neighbours. Proxy entries (`NTF_PROXY`) are skipped: the mirror does not model them.
enum NeighborDecoder {
    static func decode(_ message: NetlinkMessageView, emit: (KernelMessage) -> Void) throws {
        let header = try message.familyHeader(ndmsg.self)
        let attrs = try message.attributes(familyHeaderSize: MemoryLayout<ndmsg>.size, maxType: CNL_NDA_MAX)
        let isNew = message.type == UInt16(RTM_NEWNEIGH)
        let index = IfIndex(UInt32(bitPattern: header.ndm_ifindex))
        if header.ndm_flags & UInt8(NTF_PROXY) != 0 { return }
        switch Int32(header.ndm_family) {
        case AF_BRIDGE:
            guard let mac = attrs.macAddress(Int(NDA_LLADDR)) else {
                throw NetlinkDecodeError("FDB entry on \(index) without a 6-byte NDA_LLADDR")
            }
            let vid = try attrs.u16(Int(NDA_VLAN)) ?? 0
            guard let vlan = VLANID(rawValue: vid) else { throw NetlinkDecodeError("FDB VLAN \(vid) out of range") }
            let ndmFlags = header.ndm_flags
            var flags: FDBFlags = []
            if ndmFlags & UInt8(NTF_SELF) != 0 { flags.insert(.self) }
            // The kernel's bridge FDB dump names the bridge in NDA_MASTER rather than setting NTF_MASTER.
            if ndmFlags & UInt8(NTF_MASTER) != 0 || (ndmFlags & UInt8(NTF_SELF) == 0 && attrs.has(Int(NDA_MASTER))) {
                flags.insert(.master)
            }
            if ndmFlags & UInt8(NTF_EXT_LEARNED) != 0 { flags.insert(.externLearn) }
            if ndmFlags & UInt8(NTF_OFFLOADED) != 0 { flags.insert(.offload) }
            if ndmFlags & UInt8(NTF_STICKY) != 0 { flags.insert(.sticky) }
            if ndmFlags & UInt8(NTF_ROUTER) != 0 { flags.insert(.router) }
            // NTF_EXT_LOCKED (1 << 1, Linux 6.2; not in older uapi headers).
            if let ext = try attrs.u32(Int(NDA_FLAGS_EXT)), ext & (1 << 1) != 0 { flags.insert(.locked) }
            let key = FDBEntry.Key(port: index, mac: mac, vlan: vlan, isSelf: flags.contains(.self),
                                   remote: try attrs.ipAddress(Int(NDA_DST)), vni: try attrs.u32(Int(NDA_VNI)))
            let entry = FDBEntry(key: key,
                                 master: try attrs.u32(Int(NDA_MASTER)).flatMap { $0 == 0 ? nil : IfIndex($0) },
                                 state: FDBState(ndmState: header.ndm_state), flags: flags,
                                 remotePort: try attrs.be16(Int(NDA_PORT)))
            emit(isNew ? .newFDB(entry) : .delFDB(entry))
        case AF_INET, AF_INET6:
            guard let address = try attrs.ipAddress(Int(NDA_DST)) else {
                throw NetlinkDecodeError("neighbour on \(index) without NDA_DST")
            }
            let neighbor = Neighbor(key: .init(interface: index, address: address),
                                    lladdr: attrs.macAddress(Int(NDA_LLADDR)),
                                    state: NeighborState(rawValue: header.ndm_state),
                                    flags: header.ndm_flags)
            emit(isNew ? .newNeighbor(neighbor) : .delNeighbor(neighbor))
        default:
            return
        }
    }
}

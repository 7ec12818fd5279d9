internal import CNetlink
import SwitchModel

/// Decodes `RTM_NEWMDB` / `RTM_DELMDB` (and `RTM_GETMDB`, the type of a dump's answers):
/// `struct br_port_msg` (the bridge), then
/// `MDBA_MDB` → repeated `MDBA_MDB_ENTRY` → repeated `MDBA_MDB_ENTRY_INFO`, each a
/// `struct br_mdb_entry` followed by its `MDBA_MDB_EATTR_*` attributes. Router-port
/// messages (`MDBA_ROUTER`) carry no entries and are skipped.
enum MDBDecoder {
    static func decode(_ message: NetlinkMessageView, emit: (KernelMessage) -> Void) throws {
        let header = try message.familyHeader(br_port_msg.self)
        let attrs = try message.attributes(familyHeaderSize: MemoryLayout<br_port_msg>.size, maxType: CNL_MDBA_MAX)
        let bridge = IfIndex(header.ifindex)
        let isNew = message.type != UInt16(RTM_DELMDB)
        guard let mdb = attrs.attribute(Int(MDBA_MDB)) else { return }
        try mdb.forEachNested { entry in
            guard entry.type == Int32(MDBA_MDB_ENTRY) else { return }
            try entry.forEachNested { info in
                guard info.type == Int32(MDBA_MDB_ENTRY_INFO) else { return }
                let e = try decodeEntry(info, bridge: bridge)
                emit(isNew ? .newMDB(e) : .delMDB(e))
            }
        }
    }

    private static func decodeEntry(_ info: NetlinkAttribute, bridge: IfIndex) throws -> MDBEntry {
        let raw = try info.load(br_mdb_entry.self)
        let group: MDBGroup
        let proto = UInt16(bigEndian: raw.addr.proto)
        let addressBytes = withUnsafeBytes(of: raw.addr.u) { Array($0) }
        switch proto {
        case 0x0800:
            guard let a = IPAddress(bytes: addressBytes.prefix(4)) else { throw NetlinkDecodeError("MDB IPv4 group") }
            group = .ip(a)
        case 0x86DD:
            guard let a = IPAddress(bytes: addressBytes.prefix(16)) else { throw NetlinkDecodeError("MDB IPv6 group") }
            group = .ip(a)
        case 0:
            guard let m = MACAddress(bytes: addressBytes.prefix(6)) else { throw NetlinkDecodeError("MDB L2 group") }
            group = .mac(m)
        default:
            throw NetlinkDecodeError("MDB entry with unknown protocol 0x\(String(proto, radix: 16))")
        }
        guard let vlan = VLANID(rawValue: raw.vid) else { throw NetlinkDecodeError("MDB VLAN \(raw.vid) out of range") }
        let entrySize = (MemoryLayout<br_mdb_entry>.size + 3) & ~3
        var source: IPAddress?
        var rtprot: UInt8?
        var mode: UInt8?
        var sources = 0
        let payload = info.payload
        if payload.count > entrySize {
            let extra = try NetlinkAttributes.parse(UnsafeRawBufferPointer(rebasing: payload[entrySize...]),
                                                    maxType: CNL_MDBA_MDB_EATTR_MAX, context: "MDB entry attributes")
            source = try extra.ipAddress(Int(MDBA_MDB_EATTR_SOURCE))
            rtprot = try extra.u8(Int(MDBA_MDB_EATTR_RTPROT))
            mode = try extra.u8(Int(MDBA_MDB_EATTR_GROUP_MODE))
            try extra.attribute(Int(MDBA_MDB_EATTR_SRC_LIST))?.forEachNested { src in
                if src.type == Int32(MDBA_MDB_SRCLIST_ENTRY) { sources += 1 }
            }
        }
        return MDBEntry(key: .init(bridge: bridge, port: IfIndex(raw.ifindex), group: group, vlan: vlan, source: source),
                        permanent: raw.state == UInt8(MDB_PERMANENT), flags: raw.flags, protocolID: rtprot,
                        filterMode: mode, sourceCount: sources)
    }
}

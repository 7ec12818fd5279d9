internal import CNetlink
import SwitchModel

/// Decodes `RTM_NEWNEXTHOP` / `RTM_DELNEXTHOP` (libnl 3.7 has no nexthop objects).
enum NexthopDecoder {
    static func decode(_ message: NetlinkMessageView, emit: (KernelMessage) -> Void) throws {
        let header = try message.familyHeader(nhmsg.self)
        let attrs = try message.attributes(familyHeaderSize: MemoryLayout<nhmsg>.size, maxType: CNL_NHA_MAX)
        guard let id = try attrs.u32(Int(NHA_ID)) else { throw NetlinkDecodeError("nexthop without NHA_ID") }
        var nh = NexthopObject(id: id)
        nh.family = AddressFamily(rawValue: header.nh_family)
        nh.gateway = try attrs.ipAddress(Int(NHA_GATEWAY))
        nh.interface = try attrs.u32(Int(NHA_OIF)).map(IfIndex.init(rawValue:))
        nh.blackhole = attrs.has(Int(NHA_BLACKHOLE))
        nh.fdb = attrs.has(Int(NHA_FDB))
        nh.groupType = try attrs.u16(Int(NHA_GROUP_TYPE)) ?? 0
        nh.protocolID = RouteProtocol(rawValue: header.nh_protocol)
        nh.scope = RouteScope(rawValue: header.nh_scope)
        nh.flags = header.nh_flags
        if let group = attrs.bytes(Int(NHA_GROUP)) {
            let size = MemoryLayout<nexthop_grp>.size
            guard group.count % size == 0, group.count > 0 else {
                throw NetlinkDecodeError("NHA_GROUP of \(group.count) bytes is not a whole number of nexthop_grp")
            }
            nh.group = stride(from: 0, to: group.count, by: size).map { offset in
                let member = group.loadUnaligned(fromByteOffset: offset, as: nexthop_grp.self)
                return NexthopObject.Member(id: member.id, weight: UInt16(member.weight) + 1)
            }
        }
        emit(message.type == UInt16(RTM_NEWNEXTHOP) ? .newNexthop(nh) : .delNexthop(nh))
    }
}

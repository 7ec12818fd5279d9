internal import CNetlink

/// Routes one message to the decoder of its type. Types the mirror does not model are
/// ignored; malformed messages throw ``NetlinkDecodeError``.
enum MessageDecoder {
    static func decode(_ message: NetlinkMessageView, emit: (KernelMessage) -> Void) throws {
        switch Int(message.type) {
        case RTM_NEWLINK, RTM_DELLINK: try LinkDecoder.decode(message, emit: emit)
        case RTM_NEWNEIGH, RTM_DELNEIGH: try NeighborDecoder.decode(message, emit: emit)
        case RTM_NEWADDR, RTM_DELADDR: try AddressDecoder.decode(message, emit: emit)
        case RTM_NEWROUTE, RTM_DELROUTE: try RouteDecoder.decode(message, emit: emit)
        case RTM_NEWNEXTHOP, RTM_DELNEXTHOP: try NexthopDecoder.decode(message, emit: emit)
        // The kernel answers an MDB dump with RTM_GETMDB messages (br_mdb_dump), not RTM_NEWMDB.
        case RTM_NEWMDB, RTM_DELMDB, RTM_GETMDB: try MDBDecoder.decode(message, emit: emit)
        case RTM_NEWVLAN, RTM_DELVLAN: try VLANDecoder.decode(message, emit: emit)
        case RTM_NEWNETCONF, RTM_DELNETCONF: try NetConfDecoder.decode(message, emit: emit)
        case RTM_NEWRULE, RTM_DELRULE: try RuleDecoder.decode(message, emit: emit)
        case RTM_NEWQDISC, RTM_DELQDISC, RTM_NEWTFILTER, RTM_DELTFILTER: try TrafficControlDecoder.decode(message, emit: emit)
        default: return
        }
    }
}

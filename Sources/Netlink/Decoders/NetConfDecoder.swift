internal import CNetlink
import SwitchModel

/// Decodes `RTM_NEWNETCONF` / `RTM_DELNETCONF` for IPv4 and IPv6 (other families, MPLS,
/// are skipped). A dump entry carries every attribute; a notification only the one that
/// changed, so absent attributes stay nil.
enum NetConfDecoder {
    static func decode(_ message: NetlinkMessageView, emit: (KernelMessage) -> Void) throws {
        let header = try message.familyHeader(netconfmsg.self)
        guard let family = AddressFamily(rawValue: header.ncm_family) else { return }
        let attrs = try message.attributes(familyHeaderSize: MemoryLayout<netconfmsg>.size, maxType: CNL_NETCONFA_MAX)
        guard let raw = try attrs.u32(Int(NETCONFA_IFINDEX)) else { throw NetlinkDecodeError("netconf without NETCONFA_IFINDEX") }
        guard let scope = NetConfScope(ifindex: Int32(bitPattern: raw)) else {
            throw NetlinkDecodeError("netconf NETCONFA_IFINDEX \(Int32(bitPattern: raw))")
        }
        // The kernel puts these as s32 (`nla_put_s32`); any non-zero value means on.
        func flag(_ type: Int) throws -> Bool? { try attrs.u32(type).map { $0 != 0 } }
        let entry = NetConf(key: .init(family: family, scope: scope),
                            forwarding: try flag(Int(NETCONFA_FORWARDING)),
                            rpFilter: try attrs.u32(Int(NETCONFA_RP_FILTER)),
                            mcForwarding: try flag(Int(NETCONFA_MC_FORWARDING)),
                            proxyNeighbor: try flag(Int(NETCONFA_PROXY_NEIGH)),
                            ignoreRoutesWithLinkdown: try flag(Int(NETCONFA_IGNORE_ROUTES_WITH_LINKDOWN)))
        emit(message.type == UInt16(RTM_DELNETCONF) ? .delNetConf(entry) : .newNetConf(entry))
    }
}

internal import CNetlink
import SwitchModel

/// Decodes `RTM_NEWROUTE` / `RTM_DELROUTE` for IPv4 and IPv6. Route-cache clones
/// (`RTM_F_CLONED`) and other families are skipped.
enum RouteDecoder {
    static func decode(_ message: NetlinkMessageView, emit: (KernelMessage) -> Void) throws {
        let header = try message.familyHeader(rtmsg.self)
        let family = Int32(header.rtm_family)
        guard family == AF_INET || family == AF_INET6 else { return }
        if header.rtm_flags & UInt32(RTM_F_CLONED) != 0 { return }
        let attrs = try message.attributes(familyHeaderSize: MemoryLayout<rtmsg>.size, maxType: CNL_RTA_MAX)
        let width: UInt8 = family == AF_INET ? 32 : 128
        guard header.rtm_dst_len <= width else { throw NetlinkDecodeError("route prefix length \(header.rtm_dst_len)") }
        let dst = try attrs.ipAddress(Int(RTA_DST.rawValue)) ?? (family == AF_INET ? .anyIPv4 : .anyIPv6)
        guard (dst.family == .ipv4) == (family == AF_INET) else {
            throw NetlinkDecodeError("route RTA_DST family does not match rtm_family")
        }
        let table = try attrs.u32(Int(RTA_TABLE.rawValue)) ?? UInt32(header.rtm_table)
        let key = Route.Key(table: RouteTable(rawValue: table),
                            destination: IPPrefix(address: dst, length: header.rtm_dst_len),
                            tos: header.rtm_tos, metric: try attrs.u32(Int(RTA_PRIORITY.rawValue)) ?? 0)
        var route = Route(key: key, type: RouteType(rawValue: header.rtm_type),
                          protocolID: RouteProtocol(rawValue: header.rtm_protocol),
                          scope: RouteScope(rawValue: header.rtm_scope), flags: header.rtm_flags,
                          preferredSource: try attrs.ipAddress(Int(RTA_PREFSRC.rawValue)),
                          nexthopID: try attrs.u32(Int(RTA_NH_ID.rawValue)))
        if let multipath = attrs.bytes(Int(RTA_MULTIPATH.rawValue)) {
            route.nexthops = try nexthops(multipath)
        } else {
            let gateway = try gatewayAddress(attrs)
            let oif = try attrs.u32(Int(RTA_OIF.rawValue)).map(IfIndex.init(rawValue:))
            if gateway != nil || oif != nil {
                route.nexthops = [RouteNexthop(gateway: gateway, interface: oif, weight: 1, flags: UInt8(truncatingIfNeeded: header.rtm_flags))]
            }
            if family == AF_INET6, gateway == nil, route.nexthopID == nil { route.key.interface = oif }
        }
        emit(message.type == UInt16(RTM_NEWROUTE) ? .newRoute(route, replaces: message.flags & UInt16(NLM_F_REPLACE) != 0)
                                                  : .delRoute(route))
    }

    /// `RTA_GATEWAY`, or `RTA_VIA` (`struct rtvia`: an IPv6 gateway for an IPv4 route).
    private static func gatewayAddress(_ attrs: NetlinkAttributes) throws -> IPAddress? {
        if let gw = try attrs.ipAddress(Int(RTA_GATEWAY.rawValue)) { return gw }
        guard let via = attrs.bytes(Int(RTA_VIA.rawValue)) else { return nil }
        guard via.count >= 2 else { throw NetlinkDecodeError("RTA_VIA too short") }
        let family = UInt8(truncatingIfNeeded: via.loadUnaligned(as: UInt16.self))
        guard let address = IPAddress(family: family, raw: UnsafeRawBufferPointer(rebasing: via[2...])) else {
            throw NetlinkDecodeError("RTA_VIA with family \(family) and \(via.count - 2) address bytes")
        }
        return address
    }

    /// The paths of `RTA_MULTIPATH`: a run of `struct rtnexthop`, each followed by its own attributes.
    private static func nexthops(_ raw: UnsafeRawBufferPointer) throws -> [RouteNexthop] {
        var out: [RouteNexthop] = []
        var offset = 0
        let headerSize = MemoryLayout<rtnexthop>.size
        while offset + headerSize <= raw.count {
            let nh = raw.loadUnaligned(fromByteOffset: offset, as: rtnexthop.self)
            let length = Int(nh.rtnh_len)
            guard length >= headerSize, offset + length <= raw.count else {
                throw NetlinkDecodeError("rtnexthop length \(length) at offset \(offset) of \(raw.count)")
            }
            let attrs = try NetlinkAttributes.parse(UnsafeRawBufferPointer(rebasing: raw[(offset + headerSize)..<(offset + length)]),
                                                    maxType: CNL_RTA_MAX, context: "rtnexthop")
            out.append(RouteNexthop(gateway: try gatewayAddress(attrs),
                                    interface: nh.rtnh_ifindex == 0 ? nil : IfIndex(UInt32(bitPattern: nh.rtnh_ifindex)),
                                    weight: UInt16(nh.rtnh_hops) + 1, flags: nh.rtnh_flags))
            offset += (length + 3) & ~3
        }
        guard offset >= raw.count else { throw NetlinkDecodeError("RTA_MULTIPATH has \(raw.count - offset) trailing bytes") }
        return out
    }
}

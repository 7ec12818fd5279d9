internal import CNetlink
import SwitchModel

/// Decodes `RTM_NEWADDR` / `RTM_DELADDR`.
enum AddressDecoder {
    static func decode(_ message: NetlinkMessageView, emit: (KernelMessage) -> Void) throws {
        let header = try message.familyHeader(ifaddrmsg.self)
        guard Int32(header.ifa_family) == AF_INET || Int32(header.ifa_family) == AF_INET6 else { return }
        let attrs = try message.attributes(familyHeaderSize: MemoryLayout<ifaddrmsg>.size, maxType: CNL_IFA_MAX)
        let address = try attrs.ipAddress(Int(IFA_ADDRESS))
        guard let local = try attrs.ipAddress(Int(IFA_LOCAL)) ?? address else {
            throw NetlinkDecodeError("address message without IFA_LOCAL or IFA_ADDRESS")
        }
        guard header.ifa_prefixlen <= local.family.bitWidth else {
            throw NetlinkDecodeError("address prefix length \(header.ifa_prefixlen) too long")
        }
        let entry = InterfaceAddress(
            key: .init(interface: IfIndex(header.ifa_index), local: local, prefixLength: header.ifa_prefixlen),
            peer: address == local ? nil : address,
            scope: RouteScope(rawValue: header.ifa_scope),
            flags: try attrs.u32(Int(IFA_FLAGS)) ?? UInt32(header.ifa_flags),
            label: attrs.string(Int(IFA_LABEL)))
        emit(message.type == UInt16(RTM_NEWADDR) ? .newAddress(entry) : .delAddress(entry))
    }
}

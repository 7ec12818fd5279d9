internal import CNetlink
import SwitchModel

extension NetlinkAttributes {
    /// An IPv4 (4 bytes) or IPv6 (16 bytes) address attribute.
    func ipAddress(_ type: Int) throws -> IPAddress? {
        guard let raw = bytes(type) else { return nil }
        guard let address = IPAddress(bytes: raw) else {
            throw NetlinkDecodeError("address attribute \(type) has \(raw.count) bytes")
        }
        return address
    }

    /// A 6-byte MAC address attribute; nil when absent or of another length (tunnels carry
    /// 4- or 16-byte link-layer addresses, which are not Ethernet).
    func macAddress(_ type: Int) -> MACAddress? {
        guard let raw = bytes(type) else { return nil }
        return MACAddress(bytes: raw)
    }

    /// A `u8` attribute read as a boolean.
    func bool(_ type: Int) throws -> Bool? { try u8(type).map { $0 != 0 } }
}

extension IPAddress {
    /// An address from a family and the raw bytes of a fixed-size C field (`in6_addr` holds IPv4 in its first 4 bytes).
    init?(family: UInt8, raw: UnsafeRawBufferPointer) {
        switch Int32(family) {
        case AF_INET where raw.count >= 4: self.init(bytes: raw.prefix(4))
        case AF_INET6 where raw.count >= 16: self.init(bytes: raw.prefix(16))
        default: return nil
        }
    }
}

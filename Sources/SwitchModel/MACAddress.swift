/// A 48-bit IEEE 802 MAC address, stored in the low 48 bits of a `UInt64`
/// (first octet most significant), so it hashes and compares as one integer.
///
/// The kernel counterpart is `unsigned char[ETH_ALEN]` (`NDA_LLADDR`, `IFLA_ADDRESS`).
public struct MACAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The address in the low 48 bits; the upper 16 bits are always zero.
    public let rawValue: UInt64

    /// Creates an address from its 48-bit integer form. Bits above 48 are a programmer error.
    public init(rawValue: UInt64) {
        precondition(rawValue >> 48 == 0, "MAC address wider than 48 bits")
        self.rawValue = rawValue
    }

    /// Creates an address from exactly six octets, first octet first.
    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard bytes.count == 6 else { return nil }
        var value: UInt64 = 0
        for byte in bytes { value = value << 8 | UInt64(byte) }
        self.rawValue = value
    }

    /// Parses the colon-separated hex form `02:00:00:00:00:01` (case-insensitive).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var value: UInt64 = 0
        for part in parts {
            guard (1...2).contains(part.count), let octet = UInt8(part, radix: 16) else { return nil }
            value = value << 8 | UInt64(octet)
        }
        self.rawValue = value
    }

    /// The all-zeros address; in a VXLAN FDB it selects the flood (BUM) entry.
    public static let zero = MACAddress(rawValue: 0)
    /// The broadcast address `ff:ff:ff:ff:ff:ff`.
    public static let broadcast = MACAddress(rawValue: 0xFFFF_FFFF_FFFF)

    /// The six octets, first octet first.
    public var bytes: [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: rawValue >> (40 - 8 * UInt64($0))) } }
    /// True when the group bit (I/G, the low bit of the first octet) is set.
    public var isMulticast: Bool { (rawValue >> 40) & 1 == 1 }
    public var isBroadcast: Bool { self == .broadcast }
    /// True for the IEEE 802.1D reserved range `01:80:c2:00:00:0x` (BPDUs, LLDP, pause).
    public var isLinkLocalReserved: Bool { rawValue & ~0xF == 0x0180_C200_0000 }

    public var description: String {
        let hex: [Character] = Array("0123456789abcdef")
        var out = ""
        out.reserveCapacity(17)
        for (i, octet) in bytes.enumerated() {
            if i > 0 { out.append(":") }
            out.append(hex[Int(octet >> 4)])
            out.append(hex[Int(octet & 0xF)])
        }
        return out
    }

    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool { lhs.rawValue < rhs.rawValue }
}

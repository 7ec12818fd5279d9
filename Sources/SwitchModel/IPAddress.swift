#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address in 16 bytes. IPv4 is held in its IPv4-mapped form
/// (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2), so one type serves both families without a
/// separate family byte; ``isIPv4`` tells them apart.
///
/// The kernel counterparts are `struct in_addr` / `struct in6_addr`
/// (`RTA_DST`, `NDA_DST`, `IFA_LOCAL`, `NHA_GATEWAY`).
public struct IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The first eight octets, big-endian (first octet most significant).
    public let high: UInt64
    /// The last eight octets, big-endian.
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// An IPv4 address from its host-order integer (`10.0.0.1` is `0x0A00_0001`).
    public init(ipv4 value: UInt32) {
        self.high = 0
        self.low = 0xFFFF_0000_0000 | UInt64(value)
    }

    /// An address from 4 (IPv4) or 16 (IPv6) network-order octets.
    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        switch bytes.count {
        case 4:
            var v: UInt32 = 0
            for b in bytes { v = v << 8 | UInt32(b) }
            self.init(ipv4: v)
        case 16:
            var hi: UInt64 = 0, lo: UInt64 = 0
            for (i, b) in bytes.enumerated() {
                if i < 8 { hi = hi << 8 | UInt64(b) } else { lo = lo << 8 | UInt64(b) }
            }
            self.init(high: hi, low: lo)
        default:
            return nil
        }
    }

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text.
    public init?(_ text: String) {
        if text.contains(":") {
            var raw = in6_addr()
            guard inet_pton(AF_INET6, text, &raw) == 1 else { return nil }
            let bytes = withUnsafeBytes(of: &raw) { Array($0) }
            self.init(bytes: bytes)
        } else {
            var raw = in_addr()
            guard inet_pton(AF_INET, text, &raw) == 1 else { return nil }
            let bytes = withUnsafeBytes(of: &raw) { Array($0) }
            self.init(bytes: bytes)
        }
    }

    /// The unspecified address of the family: `0.0.0.0` or `::`.
    public static let anyIPv4 = IPAddress(ipv4: 0)
    public static let anyIPv6 = IPAddress(high: 0, low: 0)

    public var isIPv4: Bool { high == 0 && low >> 32 == 0xFFFF }
    public var family: AddressFamily { isIPv4 ? .ipv4 : .ipv6 }
    /// The host-order IPv4 value; only meaningful when ``isIPv4``.
    public var ipv4Value: UInt32 { UInt32(truncatingIfNeeded: low) }
    public var isUnspecified: Bool { isIPv4 ? ipv4Value == 0 : (high == 0 && low == 0) }
    public var isMulticast: Bool { isIPv4 ? ipv4Value >> 28 == 0xE : high >> 56 == 0xFF }

    /// The network-order octets: 4 for IPv4, 16 for IPv6.
    public var bytes: [UInt8] {
        if isIPv4 { return (0..<4).map { UInt8(truncatingIfNeeded: ipv4Value >> (24 - 8 * UInt32($0))) } }
        return (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64($0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64($0))) }
    }

    /// The text form, as `inet_ntop(3)` and iproute2 print it.
    public var description: String {
        var buffer = [CChar](repeating: 0, count: 64)
        var octets = bytes
        let family = isIPv4 ? AF_INET : AF_INET6
        let ok = octets.withUnsafeMutableBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
        }
        guard ok else { return "?" }
        return buffer.withUnsafeBufferPointer { ptr in
            String(decoding: ptr.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }
}

/// The address family of an IP object.
///
/// The kernel counterparts are `AF_INET` (2) and `AF_INET6` (10).
public enum AddressFamily: UInt8, Hashable, Sendable, CustomStringConvertible {
    case ipv4 = 2
    case ipv6 = 10

    /// iproute2's spelling in `ip -j addr` (`"inet"`, `"inet6"`).
    public var description: String { self == .ipv4 ? "inet" : "inet6" }
    /// The full prefix length of the family: 32 or 128.
    public var bitWidth: UInt8 { self == .ipv4 ? 32 : 128 }
}

/// An address with a prefix length, such as a route destination `10.0.0.0/24`.
public struct IPPrefix: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let length: UInt8

    /// Creates a prefix; host bits are kept as given (the kernel rejects routes with host
    /// bits set, so decoded routes never carry them).
    public init(address: IPAddress, length: UInt8) {
        precondition(length <= address.family.bitWidth, "prefix length exceeds the family's width")
        self.address = address
        self.length = length
    }

    /// Parses `10.0.0.0/24`, `2001:db8::/32`, or a bare address (a host prefix).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let address = IPAddress(String(first)) else { return nil }
        var length = address.family.bitWidth
        if parts.count == 2 {
            guard let l = UInt8(parts[1]), l <= length else { return nil }
            length = l
        }
        self.init(address: address, length: length)
    }

    public var family: AddressFamily { address.family }
    public var isHost: Bool { length == family.bitWidth }
    /// True for `0.0.0.0/0` and `::/0`.
    public var isDefault: Bool { length == 0 }

    /// iproute2's rendering: `default` for a zero-length prefix, the bare address for a
    /// host prefix, otherwise `address/length`.
    public var description: String {
        if isDefault { return "default" }
        if isHost { return address.description }
        return "\(address)/\(length)"
    }

    /// The prefix of `length` bits that contains this one's address (host bits cleared):
    /// `10.9.0.0/16` covered at 8 is `10.0.0.0/8`.
    public func covering(_ length: UInt8) -> IPPrefix {
        precondition(length <= family.bitWidth, "prefix length exceeds the family's width")
        let l = Int(length)
        if address.isIPv4 {
            return IPPrefix(address: IPAddress(ipv4: l == 0 ? 0 : address.ipv4Value & ~(UInt32.max >> UInt32(l))), length: length)
        }
        let high = l == 0 ? 0 : l >= 64 ? address.high : address.high & ~(UInt64.max >> UInt64(l))
        let low = l <= 64 ? 0 : l == 128 ? address.low : address.low & ~(UInt64.max >> UInt64(l - 64))
        return IPPrefix(address: IPAddress(high: high, low: low), length: length)
    }

    public static func < (lhs: IPPrefix, rhs: IPPrefix) -> Bool {
        (lhs.address, lhs.length) < (rhs.address, rhs.length)
    }
}

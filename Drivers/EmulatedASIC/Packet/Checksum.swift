import SwitchModel

/// The Internet checksum: the 16-bit one's complement of the one's complement sum of
/// 16-bit big-endian words (RFC 1071), used by the IPv4 header, ICMP, IGMP, UDP, TCP and
/// ICMPv6. The kernel counterparts are `ip_fast_csum()`, `csum_partial()`,
/// `csum_fold()`, `csum_tcpudp_magic()`, `csum_ipv6_magic()` and `csum_replace2()`.
///
/// A *partial sum* is an unfolded `UInt64` accumulator: only its value modulo 0xFFFF
/// matters, so partial sums of consecutive pieces may simply be added, as long as every
/// piece except the last has an even length (an odd final byte is padded with zero).
public enum InternetChecksum {
    /// Adds the 16-bit big-endian words of `bytes` to `sum` (RFC 1071 §4.1) and returns the
    /// partial sum. An odd final byte counts as the high byte of a word padded with zero.
    @inlinable
    public static func add(_ bytes: UnsafeRawBufferPointer, to sum: UInt64 = 0) -> UInt64 {
        var total = sum
        let count = bytes.count
        var i = 0
        // A 32-bit word hi·2¹⁶+lo ≡ hi+lo (mod 0xFFFF), so summing 32-bit words is exact.
        while i &+ 4 <= count {
            total &+= UInt64(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
            i &+= 4
        }
        if i &+ 2 <= count {
            total &+= UInt64(UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt16.self)))
            i &+= 2
        }
        if i < count { total &+= UInt64(bytes[i]) << 8 }
        return total
    }

    /// Adds the 16-bit words of `bytes[range]` to `sum`; as the buffer form.
    public static func add(_ bytes: [UInt8], range: Range<Int>? = nil, to sum: UInt64 = 0) -> UInt64 {
        let range = range ?? bytes.indices
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "checksum range outside the bytes")
        return bytes.withUnsafeBytes { add(UnsafeRawBufferPointer(rebasing: $0[range]), to: sum) }
    }

    /// Folds a partial sum to 16 bits with end-around carries (`csum_fold()` without the
    /// final complement). The result is 0 only when the partial sum is 0.
    @inlinable @inline(__always)
    public static func fold(_ sum: UInt64) -> UInt16 {
        var s = (sum & 0xFFFF_FFFF) &+ (sum >> 32)
        s = (s & 0xFFFF) &+ (s >> 16)
        s = (s & 0xFFFF) &+ (s >> 16)
        s = (s & 0xFFFF) &+ (s >> 16)
        return UInt16(truncatingIfNeeded: s)
    }

    /// The checksum of `bytes`: `~fold(initial + sum(bytes))`. Compute it with the checksum
    /// field zeroed, then store it big-endian in that field.
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer, initial: UInt64 = 0) -> UInt16 {
        ~fold(add(bytes, to: initial))
    }

    /// The checksum of `bytes[range]` (the whole array by default).
    public static func checksum(_ bytes: [UInt8], range: Range<Int>? = nil, initial: UInt64 = 0) -> UInt16 {
        ~fold(add(bytes, range: range, to: initial))
    }

    /// True when `bytes` including their stored checksum sum to 0xFFFF, i.e. the checksum
    /// over them is 0 (RFC 1071 §1, the receiver's check).
    @inlinable
    public static func verify(_ bytes: UnsafeRawBufferPointer, initial: UInt64 = 0) -> Bool {
        fold(add(bytes, to: initial)) == 0xFFFF
    }

    /// True when `bytes[range]` including their stored checksum verify.
    public static func verify(_ bytes: [UInt8], range: Range<Int>? = nil, initial: UInt64 = 0) -> Bool {
        fold(add(bytes, range: range, to: initial)) == 0xFFFF
    }

    /// Verifies an IPv4 header of `length` bytes (a multiple of 4, at least 20) at `offset`:
    /// the parser's fast path, `ip_fast_csum() == 0`. The caller has checked the bounds.
    ///
    /// The one's complement sum is byte-order independent (RFC 1071 §2(B)), and 0xFFFF is its
    /// own byte swap, so the words are summed in host order without conversion.
    @inlinable @inline(__always)
    public static func verifyIPv4Header(_ bytes: UnsafeRawBufferPointer, offset: Int, length: Int) -> Bool {
        var sum: UInt64 = 0
        var i = offset
        let end = offset &+ length
        while i < end {
            sum &+= UInt64(bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self))
            i &+= 4
        }
        return fold(sum) == 0xFFFF
    }

    /// RFC 1624 incremental update (eqn. 3, `HC' = ~(~HC + ~m + m')`, the kernel's
    /// `csum_replace2()`): the new checksum after one 16-bit word of the covered data
    /// changes from `old` to `new`. Equal to a full recomputation for any header with a
    /// non-zero word (every IPv4 header).
    @inlinable
    public static func update(checksum: UInt16, old: UInt16, new: UInt16) -> UInt16 {
        ~fold(UInt64(~checksum) &+ UInt64(~old) &+ UInt64(new))
    }

    /// RFC 1624 incremental update for a 32-bit field such as an IPv4 address (`csum_replace4()`).
    @inlinable
    public static func update(checksum: UInt16, old32 old: UInt32, new32 new: UInt32) -> UInt16 {
        let s = UInt64(~checksum) &+ UInt64(~UInt16(truncatingIfNeeded: old >> 16)) &+ UInt64(~UInt16(truncatingIfNeeded: old))
            &+ UInt64(new >> 16) &+ UInt64(new & 0xFFFF)
        return ~fold(s)
    }

    /// The partial sum of the IPv4 pseudo-header for UDP and TCP checksums (RFC 768,
    /// RFC 9293 §3.1): source, destination, zero, protocol, and the L4 length. Addresses are host-order IPv4 values.
    @inlinable
    public static func pseudoHeaderSum(ipv4Source source: UInt32, destination: UInt32, protocol proto: UInt8, length: Int) -> UInt64 {
        precondition(length >= 0 && length <= 0xFFFF, "IPv4 L4 length out of range")
        return UInt64(source) &+ UInt64(destination) &+ UInt64(proto) &+ UInt64(length)
    }

    /// The partial sum of the IPv6 pseudo-header (RFC 8200 §8.1): source, destination,
    /// 32-bit upper-layer length, three zero octets, next header. Addresses are given as
    /// `IPAddress.high`/`low` halves.
    @inlinable
    public static func pseudoHeaderSum(ipv6SourceHigh sh: UInt64, sourceLow sl: UInt64, destinationHigh dh: UInt64,
                                       destinationLow dl: UInt64, nextHeader: UInt8, length: Int) -> UInt64 {
        precondition(length >= 0 && length <= 0xFFFF_FFFF, "IPv6 upper-layer length out of range")
        let s = (sh >> 32) &+ (sh & 0xFFFF_FFFF) &+ (sl >> 32) &+ (sl & 0xFFFF_FFFF)
            &+ (dh >> 32) &+ (dh & 0xFFFF_FFFF) &+ (dl >> 32) &+ (dl & 0xFFFF_FFFF)
        return s &+ UInt64(length) &+ UInt64(nextHeader)
    }

    /// The pseudo-header partial sum for either family; both addresses must be of the same family.
    public static func pseudoHeaderSum(source: IPAddress, destination: IPAddress, protocol proto: UInt8, length: Int) -> UInt64 {
        precondition(source.isIPv4 == destination.isIPv4, "pseudo-header addresses of different families")
        if source.isIPv4 {
            return pseudoHeaderSum(ipv4Source: source.ipv4Value, destination: destination.ipv4Value, protocol: proto, length: length)
        }
        return pseudoHeaderSum(ipv6SourceHigh: source.high, sourceLow: source.low, destinationHigh: destination.high,
                               destinationLow: destination.low, nextHeader: proto, length: length)
    }

    /// The checksum of a UDP, TCP or ICMPv6 message over the pseudo-header (computed with
    /// the message's checksum field zeroed). For UDP, a result of 0 must be sent as 0xFFFF
    /// (RFC 768); ``FrameBuilder`` does that.
    public static func transportChecksum(source: IPAddress, destination: IPAddress, protocol proto: UInt8, segment: [UInt8]) -> UInt16 {
        checksum(segment, initial: pseudoHeaderSum(source: source, destination: destination, protocol: proto, length: segment.count))
    }

    /// True when a received UDP, TCP or ICMPv6 message (checksum field included) verifies
    /// against the pseudo-header.
    public static func verifyTransport(source: IPAddress, destination: IPAddress, protocol proto: UInt8, segment: [UInt8]) -> Bool {
        verify(segment, initial: pseudoHeaderSum(source: source, destination: destination, protocol: proto, length: segment.count))
    }
}

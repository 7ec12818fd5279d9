import SwitchModel

/// Why a chip-link frame could not be read or a request could not be served.
public enum ChipLinkError: Error, Equatable, CustomStringConvertible {
    /// The bytes do not form a valid message: what was wrong and at which offset.
    case malformed(String, offset: Int)
    /// The peer speaks a protocol version this side does not.
    case versionMismatch(local: UInt16, remote: UInt16)
    /// The connection failed or closed: the system call and its error.
    case connection(String)
    /// The chip answered with an error message.
    case remote(String)

    public var description: String {
        switch self {
        case .malformed(let what, let offset): "malformed chip-link message at byte \(offset): \(what)"
        case .versionMismatch(let l, let r): "chip-link version mismatch: this side speaks \(l), the chip \(r)"
        case .connection(let what): "chip link: \(what)"
        case .remote(let what): "chip: \(what)"
        }
    }
}

/// Appends little-endian integers and model values to a byte buffer.
public struct ByteWriter {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inline(__always) public mutating func u8(_ v: UInt8) { bytes.append(v) }
    @inline(__always) public mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }
    @inline(__always) public mutating func u16(_ v: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: v))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
    }
    @inline(__always) public mutating func u32(_ v: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) }
    }
    @inline(__always) public mutating func u64(_ v: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }
    /// A count or length, checked to fit 32 bits.
    public mutating func count(_ n: Int) { u32(UInt32(n)) }
    public mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        count(utf8.count)
        bytes.append(contentsOf: utf8)
    }
    public mutating func mac(_ m: MACAddress) { u64(m.rawValue) }
    public mutating func ip(_ a: IPAddress) {
        u64(a.high)
        u64(a.low)
    }
    public mutating func prefix(_ p: IPPrefix) {
        ip(p.address)
        u8(p.length)
    }
    public mutating func vid(_ v: VLANID) { u16(v.rawValue) }

    /// Overwrites 4 bytes at `offset` (a length field reserved earlier).
    mutating func patchU32(_ v: UInt32, at offset: Int) {
        for k in 0..<4 { bytes[offset + k] = UInt8(truncatingIfNeeded: v >> UInt32(8 * k)) }
    }
}

/// Reads what `ByteWriter` wrote; every read checks bounds and ranges and throws
/// `ChipLinkError.malformed` naming the offset, so a bad frame never traps.
public struct ByteReader {
    let bytes: [UInt8]
    public private(set) var offset: Int
    let end: Int

    public init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        offset = start
        self.end = end ?? bytes.count
    }

    public var isAtEnd: Bool { offset == end }

    func fail(_ what: String) -> ChipLinkError { .malformed(what, offset: offset) }

    @inline(__always) mutating func need(_ n: Int, _ what: StaticString) throws {
        guard end - offset >= n else { throw fail("truncated \(what): needs \(n) bytes, \(end - offset) left") }
    }
    public mutating func u8() throws -> UInt8 {
        try need(1, "byte")
        defer { offset += 1 }
        return bytes[offset]
    }
    public mutating func bool() throws -> Bool {
        let v = try u8()
        guard v <= 1 else { throw ChipLinkError.malformed("boolean \(v)", offset: offset - 1) }
        return v == 1
    }
    public mutating func u16() throws -> UInt16 {
        try need(2, "u16")
        defer { offset += 2 }
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }
    public mutating func u32() throws -> UInt32 {
        try need(4, "u32")
        var v: UInt32 = 0
        for k in 0..<4 { v |= UInt32(bytes[offset + k]) << UInt32(8 * k) }
        offset += 4
        return v
    }
    public mutating func u64() throws -> UInt64 {
        try need(8, "u64")
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(bytes[offset + k]) << UInt64(8 * k) }
        offset += 8
        return v
    }
    /// A count of following items, each at least `minimumSize` bytes: a count the rest of
    /// the frame cannot hold is refused before anything is allocated.
    public mutating func count(minimumSize: Int = 1) throws -> Int {
        let n = Int(try u32())
        guard n * max(minimumSize, 1) <= end - offset else { throw fail("count \(n) exceeds the \(end - offset) bytes left") }
        return n
    }
    public mutating func string() throws -> String {
        let n = try count()
        defer { offset += n }
        return String(decoding: bytes[offset..<offset + n], as: UTF8.self)
    }
    public mutating func mac() throws -> MACAddress {
        let v = try u64()
        guard v >> 48 == 0 else { throw fail("MAC address wider than 48 bits") }
        return MACAddress(rawValue: v)
    }
    public mutating func ip() throws -> IPAddress {
        let high = try u64()
        return IPAddress(high: high, low: try u64())
    }
    public mutating func prefix() throws -> IPPrefix {
        let address = try ip()
        let length = try u8()
        guard length <= address.family.bitWidth else { throw fail("prefix length \(length) for an \(address.family) address") }
        return IPPrefix(address: address, length: length)
    }
    public mutating func vid() throws -> VLANID {
        let raw = try u16()
        guard let v = VLANID(rawValue: raw) else { throw fail("VLAN id \(raw) above 4095") }
        return v
    }
    /// A raw value of a `RawRepresentable` enum, refused when unknown.
    public mutating func enumeration<E: RawRepresentable>(_: E.Type, _ raw: E.RawValue) throws -> E {
        guard let v = E(rawValue: raw) else { throw fail("unknown \(E.self) \(raw)") }
        return v
    }
}

import EmulatedASIC
import SwitchDriver
import SwitchModel

/// Addresses the packet tests share.
enum Fixture {
    static let macA = MACAddress(rawValue: 0x0200_0000_0001)
    static let macB = MACAddress(rawValue: 0x0200_0000_0002)
    static let ipA = IPAddress(ipv4: 0x0A00_0001)             // 10.0.0.1
    static let ipB = IPAddress(ipv4: 0x0A00_0002)             // 10.0.0.2
    static let v6A = IPAddress("2001:db8::1")!
    static let v6B = IPAddress("2001:db8::2")!
    static let linkLocalA = IPAddress("fe80::1")!
}

/// Bytes from a hex string; spaces and newlines are ignored.
func hexBytes(_ text: String) -> [UInt8] {
    let digits = text.filter { !$0.isWhitespace }
    precondition(digits.count % 2 == 0, "odd number of hex digits")
    var out: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        out.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return out
}

/// Parses and returns the frame, or nil when dropped.
func parsed(_ bytes: [UInt8], options: ParserOptions = ParserOptions()) -> ParsedFrame? {
    FrameParser.parse(bytes, options: options).frame
}

/// Parses and returns the drop reason, or nil when accepted.
func dropReason(_ bytes: [UInt8], options: ParserOptions = ParserOptions()) -> DropReason? {
    FrameParser.parse(bytes, options: options).drop
}

/// Big-endian 16-bit field access for mutating frames in tests.
func read16(_ bytes: [UInt8], _ offset: Int) -> UInt16 { UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1]) }

func write16(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt16) {
    bytes[offset] = UInt8(value >> 8)
    bytes[offset + 1] = UInt8(value & 0xFF)
}

/// Recomputes the IPv4 header checksum of the header at `l3`, so a test can change one
/// header field and see only that field's verdict.
func fixIPv4Checksum(_ bytes: inout [UInt8], l3: Int = 14) {
    let headerLength = Int(bytes[l3] & 0x0F) * 4
    write16(&bytes, l3 + 10, 0)
    write16(&bytes, l3 + 10, InternetChecksum.checksum(bytes, range: l3..<min(l3 + headerLength, bytes.count)))
}

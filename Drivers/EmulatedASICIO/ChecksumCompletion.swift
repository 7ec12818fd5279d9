import EmulatedASIC
import SwitchModel

/// Completes the L4 checksum of a frame whose sender left it to "hardware".
///
/// A veth peer sends TCP and UDP with `CHECKSUM_PARTIAL`: the checksum field holds only
/// the pseudo-header sum, because the receiving kernel would trust it. A frame read from
/// the wire with an AF_PACKET socket and sent on to another host must carry a real
/// checksum, as it would after a NIC's checksum offload; otherwise the next host drops it.
enum ChecksumCompletion {
    static func complete(_ frame: UnsafeMutableRawBufferPointer) {
        var pf = ParsedFrame()
        var options = ParserOptions()
        options.vxlanPort = 0
        guard FrameParser.parse(UnsafeRawBufferPointer(frame), into: &pf, options: options) == nil,
              pf.l3 == .ipv4 || pf.l3 == .ipv6, !pf.isFragment,
              let source = pf.ipSource, let destination = pf.ipDestination else { return }
        let field: Int
        switch pf.ipProtocol {
        case 17: field = 6     // UDP
        case 6: field = 16     // TCP
        default: return
        }
        let end = pf.l3Offset + pf.ipTotalLength
        guard pf.l4Offset + field + 2 <= end else { return }
        frame[pf.l4Offset + field] = 0
        frame[pf.l4Offset + field + 1] = 0
        let segment = Array(UnsafeRawBufferPointer(rebasing: frame[pf.l4Offset..<end]))
        var sum = InternetChecksum.transportChecksum(source: source, destination: destination, protocol: pf.ipProtocol, segment: segment)
        if sum == 0, pf.ipProtocol == 17 { sum = 0xFFFF }
        frame[pf.l4Offset + field] = UInt8(sum >> 8)
        frame[pf.l4Offset + field + 1] = UInt8(sum & 0xFF)
    }
}

import EmulatedASIC
import SwitchModel

/// How received frames are compared: byte for byte after ``normalize(_:ping:)`` clears the
/// fields that legitimately differ between two kernels, each named here (Docs/Testing.md).
///
/// Ignored fields:
/// - `ipv4.id`: the identification a kernel picks for the packets it *originates* (echo
///   replies, ICMP errors, ARP-triggered retransmissions) is hashed with a per-namespace
///   secret. Forwarded packets keep theirs in both worlds; crafted probes number theirs 1…N.
/// - `ipv4.checksum`, `icmp.checksum` (IPv4 header and ICMPv4 message; also those of the
///   datagram an ICMP error quotes): cleared when *valid*, kept when wrong — so a chip
///   that updates a checksum incorrectly still differs.
/// - `eth.padding`: bytes after the ARP/IP packet in a frame of at most 60 bytes. A MAC
///   pads short frames to 60 (the chip does, as hardware does); the kernel does not pad on
///   a veth. Only the padding, never a byte of the packet.
/// - `vxlan.udp.sport`: the outer UDP source port of a VXLAN packet is a hash of the
///   inner flow (entropy for the underlay's ECMP); cleared when it is in the kernel's
///   range (``kernelSourcePorts``), kept — so it differs — when outside it. The inner
///   frame is normalized like any frame. The outer `udp.checksum` covers both: a valid
///   one (or one left for offload) is recomputed for the normalized datagram.
/// - in `ping` steps only, `icmp.echo.id`, `icmp.echo.timestamp` (the first 16 data bytes)
///   and the ICMPv6 echo checksum: `ping` picks its identifier and writes the send time.
public enum FrameComparison {
    /// Parsing that does not refuse a wrong IPv4 checksum: the frame is still compared
    /// (and its checksum kept, so it differs).
    static let lenient: ParserOptions = {
        var o = ParserOptions()
        o.verifyIPv4Checksum = false
        return o
    }()

    /// The source ports a kernel's vxlan device picks from (`udp_flow_src_port` over the
    /// namespace's `ip_local_port_range`, 32768…60999 by default).
    public static let kernelSourcePorts: ClosedRange<UInt16> = 32768...60999

    /// The frame with the ignored fields cleared; `ping` for frames of a `ping` step.
    public static func normalize(_ frame: [UInt8], ping: Bool = false) -> [UInt8] {
        var f = frame
        let parsed = FrameParser.parse(frame, options: lenient)
        guard let pf = parsed.frame else { return f }
        let l3 = pf.l3Offset
        switch pf.l3 {
        case .arp:
            if f.count <= FrameBuilder.minimumFrameLength, f.count > l3 + 28 { f.removeLast(f.count - l3 - 28) }
        case .ipv4:
            let end = l3 + pf.ipTotalLength
            if f.count <= FrameBuilder.minimumFrameLength, f.count > end, end > l3 { f.removeLast(f.count - end) }
            clearIPv4(&f, at: l3, headerLength: pf.ipHeaderLength)
            if pf.isVXLAN, pf.l4Offset + 8 <= f.count, end <= f.count, pf.innerOffset < end {
                normalizeVXLAN(&f, at: pf.l4Offset, inner: pf.innerOffset, end: end, sourcePort: pf.srcPort, ping: ping,
                               source: IPAddress(ipv4: pf.ipv4Src), destination: IPAddress(ipv4: pf.ipv4Dst))
            }
            if pf.ipProtocol == IPProtocol.icmp, !pf.isFragment {
                normalizeICMP(&f, at: pf.l4Offset, end: min(end, f.count), ping: ping)
            }
        case .ipv6:
            let end = l3 + pf.ipTotalLength
            if f.count <= FrameBuilder.minimumFrameLength, f.count > end, end > l3 { f.removeLast(f.count - end) }
            if pf.isVXLAN, pf.l4Offset + 8 <= f.count, end <= f.count, pf.innerOffset < end {
                normalizeVXLAN(&f, at: pf.l4Offset, inner: pf.innerOffset, end: end, sourcePort: pf.srcPort, ping: ping,
                               source: IPAddress(high: pf.ipv6SrcHigh, low: pf.ipv6SrcLow),
                               destination: IPAddress(high: pf.ipv6DstHigh, low: pf.ipv6DstLow))
            }
            if ping, pf.ipProtocol == IPProtocol.icmpv6, pf.icmpType == ICMPv6Type.echoRequest || pf.icmpType == ICMPv6Type.echoReply {
                let o = pf.l4Offset
                for i in [o + 2, o + 3, o + 4, o + 5] where i < f.count { f[i] = 0 }
                for i in (o + 8)..<min(o + 24, f.count) { f[i] = 0 }
            }
        default:
            break
        }
        return f
    }

    /// A VXLAN packet: the inner frame is normalized as a frame of its own (what a host
    /// originated behind the tunnel), and the outer UDP source port is cleared when in the
    /// kernel's range. The UDP checksum covers both: when it is valid — or left for
    /// offload, as a veth delivers the kernel's own — it is recomputed over the normalized
    /// datagram (so both sides agree, and a checksum stays distinct from none); a wrong one
    /// is kept (so it differs); a zero one (none, RFC 7348's default over IPv4) stays zero.
    static func normalizeVXLAN(_ f: inout [UInt8], at o: Int, inner: Int, end: Int, sourcePort: UInt16, ping: Bool,
                               source: IPAddress, destination: IPAddress) {
        let checksummed = f[o + 6] != 0 || f[o + 7] != 0
        let pseudo = InternetChecksum.pseudoHeaderSum(source: source, destination: destination, protocol: IPProtocol.udp,
                                                      length: end - o)
        // A kernel leaves the checksum to the device (CHECKSUM_PARTIAL) and a veth passes it
        // on unfinished: the field holds the folded pseudo-header sum alone.
        let partial = UInt16(f[o + 6]) << 8 | UInt16(f[o + 7]) == InternetChecksum.fold(pseudo)
        let valid = checksummed && (partial || InternetChecksum.verifyTransport(
            source: source, destination: destination, protocol: IPProtocol.udp, segment: Array(f[o..<end])))
        let normalized = normalize(Array(f[inner..<end]), ping: ping)
        if normalized.count == end - inner { f.replaceSubrange(inner..<end, with: normalized) }
        if kernelSourcePorts.contains(sourcePort) {
            f[o] = 0
            f[o + 1] = 0
        }
        guard valid else { return }
        f[o + 6] = 0
        f[o + 7] = 0
        var sum = InternetChecksum.transportChecksum(source: source, destination: destination, protocol: IPProtocol.udp,
                                                     segment: Array(f[o..<end]))
        if sum == 0 { sum = 0xFFFF }
        f[o + 6] = UInt8(sum >> 8)
        f[o + 7] = UInt8(sum & 0xFF)
    }

    /// Clears an IPv4 header's identification, and its checksum when valid.
    static func clearIPv4(_ f: inout [UInt8], at o: Int, headerLength: Int) {
        guard o + 20 <= f.count, headerLength >= 20, o + headerLength <= f.count else { return }
        let valid = InternetChecksum.verify(f, range: o..<(o + headerLength))
        f[o + 4] = 0
        f[o + 5] = 0
        if valid {
            f[o + 10] = 0
            f[o + 11] = 0
        }
    }

    static func normalizeICMP(_ f: inout [UInt8], at o: Int, end: Int, ping: Bool) {
        guard o + 8 <= end else { return }
        let valid = InternetChecksum.verify(f, range: o..<end)
        let type = f[o]
        if type == ICMPType.destinationUnreachable || type == ICMPType.timeExceeded || type == 12 {
            // The quoted datagram: its header's id and checksum, and a quoted echo's checksum,
            // identifier and timestamp (what `ping` wrote, as in the echo itself).
            let q = o + 8
            if q + 20 <= end, f[q] >> 4 == 4 {
                let ihl = Int(f[q] & 0xF) * 4
                clearIPv4(&f, at: q, headerLength: ihl)
                if ping, f[q + 9] == IPProtocol.icmp, q + ihl + 8 <= end {
                    for i in [2, 3, 4, 5] { f[q + ihl + i] = 0 }
                    for i in (q + ihl + 8)..<min(q + ihl + 24, end) { f[i] = 0 }
                }
            }
        }
        if ping, type == ICMPType.echoRequest || type == ICMPType.echoReply {
            f[o + 4] = 0
            f[o + 5] = 0
            for i in (o + 8)..<min(o + 24, end) { f[i] = 0 }
        }
        if valid {
            f[o + 2] = 0
            f[o + 3] = 0
        }
    }

    /// Kernel background traffic no probe causes, left out of the comparison (the frames
    /// lists still show it): IGMP and MLD *reports* whose groups are all link-local
    /// (224.0.0.0/24, ff02::/16) or ff05::2 — the joins a kernel sends on its own when an
    /// interface comes up, at randomized times (a bridge with snooping joins
    /// 224.0.0.106/ff02::6a; hosts join all-routers; a router's kernel joins ff02::2 and
    /// the site-local all-routers ff05::2 when IPv6 forwarding turns on). Reports for any
    /// other group, queries and leaves are compared.
    public static func isNoise(_ frame: [UInt8]) -> Bool {
        guard let pf = FrameParser.parse(frame, options: lenient).frame else { return false }
        let o = pf.l4Offset
        if pf.isIGMP, o + 8 <= frame.count {
            func linkLocal(_ at: Int) -> Bool { at + 4 <= frame.count && frame[at] == 224 && frame[at + 1] == 0 && frame[at + 2] == 0 }
            switch frame[o] {
            case 0x12, 0x16: return linkLocal(o + 4)                 // IGMPv1/v2 report
            case 0x22:                                              // IGMPv3 report: every record
                let n = Int(frame[o + 6]) << 8 | Int(frame[o + 7])
                var at = o + 8
                for _ in 0..<n {
                    guard at + 8 <= frame.count, linkLocal(at + 4) else { return false }
                    at += 8 + Int(frame[at + 1]) * 4 + (Int(frame[at + 2]) << 8 | Int(frame[at + 3])) * 4
                }
                return n > 0
            default: return false
            }
        }
        if pf.isMLD, o + 8 <= frame.count {
            // ff02::/16, or ff05::2 (site-local all-routers).
            func kernelsOwn(_ at: Int) -> Bool {
                frame[at] == 0xFF && (frame[at + 1] == 0x02
                    || (frame[at + 1] == 0x05 && frame[(at + 2)..<(at + 15)].allSatisfy { $0 == 0 } && frame[at + 15] == 2))
            }
            switch frame[o] {
            case ICMPv6Type.mldv1Report: return o + 24 <= frame.count && kernelsOwn(o + 8)
            case ICMPv6Type.mldv2Report:
                let n = Int(frame[o + 6]) << 8 | Int(frame[o + 7])
                var at = o + 8
                for _ in 0..<n {
                    guard at + 20 <= frame.count, kernelsOwn(at + 4) else { return false }
                    at += 20 + Int(frame[at + 1]) * 4 + (Int(frame[at + 2]) << 8 | Int(frame[at + 3])) * 16
                }
                return n > 0
            default: return false
            }
        }
        return false
    }

    /// Frames in comparison order: grouped by stream — source MAC, destination MAC,
    /// EtherType, IP protocol and ICMP/ICMPv6/IGMP type — keeping each stream's own order
    /// (a stable sort). Order matters within a stream (a flow's frames, ten floods of one
    /// request); between streams it follows timing that legitimately differs (a reply
    /// racing the next probe frame through a store-and-forward chip; a router's neighbour
    /// advertisement and an ICMP error it sends for a trapped packet, which the chip's
    /// CPU path delays), so it is not compared.
    public static func inStreamOrder(_ frames: [[UInt8]]) -> [[UInt8]] {
        func key(_ f: [UInt8]) -> [UInt8] {
            guard f.count >= 14 else { return f }
            var k = Array(f[0..<14])
            if let pf = FrameParser.parse(f, options: lenient).frame {
                k[12] = UInt8(pf.etherType >> 8)
                k[13] = UInt8(pf.etherType & 0xFF)
                k.append(pf.ipProtocol)
                k.append(pf.icmpType)    // 0 unless ICMP, ICMPv6 or IGMP
            }
            return k
        }
        return frames.enumerated().map { (key: key($0.element), index: $0.offset, frame: $0.element) }
            .sorted { $0.key != $1.key ? $0.key.lexicographicallyPrecedes($1.key) : $0.index < $1.index }
            .map(\.frame)
    }

    /// The first place two received sequences differ: the index and the two frames there
    /// (nil where one side has no frame). Nil when they are the same.
    public static func firstDifference(_ a: [[UInt8]], _ b: [[UInt8]]) -> (index: Int, a: [UInt8]?, b: [UInt8]?)? {
        for i in 0..<max(a.count, b.count) {
            let x = i < a.count ? a[i] : nil, y = i < b.count ? b[i] : nil
            if x != y { return (i, x, y) }
        }
        return nil
    }

    /// A hex dump, 16 bytes a line, with offsets.
    public static func hexDump(_ bytes: [UInt8], indent: String = "    ") -> String {
        stride(from: 0, to: bytes.count, by: 16).map { start in
            let row = bytes[start..<min(start + 16, bytes.count)]
            let offset = String(start, radix: 16)
            return indent + String(repeating: "0", count: 4 - offset.count) + offset + "  "
                + row.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
        }.joined(separator: "\n")
    }

    /// One line a person can read: MACs, tag, and what the frame carries.
    public static func summary(_ frame: [UInt8]) -> String {
        let parsed = FrameParser.parse(frame, options: lenient)
        guard let pf = parsed.frame else {
            return "\(frame.count) bytes, unparsable (\(parsed.drop.map { "\($0)" } ?? "?"))"
        }
        var s = "\(MACAddress(rawValue: pf.src)) > \(MACAddress(rawValue: pf.dst))"
        if pf.tagCount > 0 { s += " vlan \(pf.outerVID)" }
        switch pf.l3 {
        case .arp:
            let sender = IPAddress(ipv4: pf.arpSenderIP), target = IPAddress(ipv4: pf.arpTargetIP)
            s += pf.arpOperation == 1 ? " ARP who-has \(target) tell \(sender)"
                : " ARP reply \(sender) is-at \(MACAddress(rawValue: pf.arpSenderMAC)) (to \(target))"
        case .ipv4, .ipv6:
            let src = pf.l3 == .ipv4 ? IPAddress(ipv4: pf.ipv4Src) : IPAddress(high: pf.ipv6SrcHigh, low: pf.ipv6SrcLow)
            let dst = pf.l3 == .ipv4 ? IPAddress(ipv4: pf.ipv4Dst) : IPAddress(high: pf.ipv6DstHigh, low: pf.ipv6DstLow)
            s += " \(pf.l3 == .ipv4 ? "IPv4" : "IPv6") \(src) > \(dst) ttl \(pf.ttl)"
            switch pf.ipProtocol {
            case IPProtocol.udp:
                s += pf.isVXLAN ? " UDP \(pf.srcPort) > \(pf.dstPort) VXLAN vni \(pf.vxlanVNI)" : " UDP \(pf.srcPort) > \(pf.dstPort)"
            case IPProtocol.tcp: s += " TCP \(pf.srcPort) > \(pf.dstPort)"
            case IPProtocol.icmp:
                s += " ICMP type \(pf.icmpType) code \(pf.icmpCode)"
                if pf.icmpType == 8 || pf.icmpType == 0, pf.l4Offset + 8 <= frame.count {
                    s += (pf.icmpType == 8 ? " echo-request" : " echo-reply") + " seq \(UInt16(frame[pf.l4Offset + 6]) << 8 | UInt16(frame[pf.l4Offset + 7]))"
                }
            case IPProtocol.icmpv6: s += " ICMPv6 type \(pf.icmpType) code \(pf.icmpCode)"
            case IPProtocol.igmp:
                if pf.l4Offset + 8 <= frame.count {
                    let at = frame[pf.l4Offset] == 0x22 ? pf.l4Offset + 12 : pf.l4Offset + 4    // v3: the first record's group
                    let group = at + 4 <= frame.count ? (0...3).reduce(UInt32(0)) { $0 << 8 | UInt32(frame[at + $1]) } : 0
                    s += " IGMP type 0x\(String(frame[pf.l4Offset], radix: 16)) group \(IPAddress(ipv4: group))"
                } else {
                    s += " IGMP"
                }
            default: s += " proto \(pf.ipProtocol)"
            }
        default:
            s += " ethertype 0x\(String(pf.etherType, radix: 16))"
        }
        return s + ", \(frame.count) bytes"
    }
}

import EmulatedASIC
import Lab
import SwitchModel

/// The frames a `send` statement writes, built with the chip's ``FrameBuilder`` (so they
/// are byte-exact RFC frames, padded to 60 bytes as a NIC pads them).
///
/// ```
/// send HOST arp-request TARGET-IP                       broadcast "who-has TARGET tell HOST"
/// send HOST arp-reply TARGET-IP to MAC|HOST             unicast "HOST's IP is at HOST's MAC"
/// send HOST udp DST-IP [to MAC|HOST] [sport N|A-B] [dport N] [size N]
/// send HOST icmp-echo DST-IP [to MAC|HOST]
/// send HOST igmp-report GROUP | igmp-leave GROUP | igmp-query [GROUP]
/// send HOST igmpv3-report GROUP mode MODE [sources IP,IP…]   one group record (RFC 3376)
/// send HOST mldv2-report GROUP mode MODE [sources IP,IP…]    one group record (RFC 3810)
/// send HOST raw HEX
/// ```
/// Options for every kind: `count N` (N frames; IPv4 identification and ICMP sequence
/// count 1…N), `from IP` (the source address; by default the host's first of the
/// family), `src-mac MAC` (by default the host's), `ttl N`, `vlan VID` (an 802.1Q tag),
/// `df 1` (IPv4 don't fragment), `size N` (payload bytes, at most 1400).
/// `to` defaults to the group's MAC for multicast, a host's MAC for its address, else
/// broadcast. Payloads carry the marker `difftest L<line> #<n>`. MODE is the record type:
/// `is-include`, `is-exclude`, `to-include`, `to-exclude`, `allow` or `block`
/// (`IGMPV3_MODE_IS_INCLUDE` … `IGMPV3_BLOCK_OLD_SOURCES`); an MLDv2 report's source should
/// be link-local (`from fe80::…`): the kernel ignores MLD from other sources.
public enum ProbeFrames {
    public static func build(kind: String, arguments: [String], host: LabSpec.Host, spec: LabSpec,
                             line: Int) throws(LabError) -> [[UInt8]] {
        var rest = arguments[...]
        func fail(_ message: String) -> LabError { LabError(line: line, "send \(kind): \(message)") }
        func address(_ word: String) throws(LabError) -> IPAddress {
            guard let a = IPAddress(word) else { throw fail("'\(word)' is not an address") }
            return a
        }
        func mac(_ word: String) throws(LabError) -> MACAddress {
            if let h = spec.hostNamed(word), let m = h.mac { return m }
            guard let m = MACAddress(word) else { throw fail("'\(word)' is not a MAC or a host") }
            return m
        }
        func number(_ word: String, max: Int) throws(LabError) -> Int {
            guard let n = Int(word), n >= 0, n <= max else { throw fail("'\(word)' is not a number in 0…\(max)") }
            return n
        }
        // The positional argument (an address, a group, hex bytes), if the kind takes one.
        var positional: String?
        if let first = rest.first, !optionNames.contains(first) { positional = rest.removeFirst() }
        var count = 1, ttl: UInt8 = FrameBuilder.defaultTTL, sport: UInt16 = 40000, dport: UInt16 = 9, size = 0, sportSpan = 1
        var to: MACAddress?, from: IPAddress?, srcMAC = host.mac ?? .zero, vlan: [VLANTag] = [], dontFragment = false
        var mode: GroupRecord.Kind?, sources: [IPAddress] = []
        while let key = rest.popFirst() {
            guard let value = rest.popFirst() else { throw fail("\(key) takes a value") }
            switch key {
            case "count": count = try number(value, max: 10_000)
            case "ttl": ttl = UInt8(try number(value, max: 255))
            case "sport":
                // `sport A-B`: frame n from port A + n mod (B - A + 1): one flow per port.
                let ends = value.split(separator: "-", maxSplits: 1).map(String.init)
                sport = UInt16(try number(ends[0], max: 65535))
                if ends.count == 2 {
                    let last = try number(ends[1], max: 65535)
                    guard last >= Int(sport) else { throw fail("sport range \(value) runs backwards") }
                    sportSpan = last - Int(sport) + 1
                }
            case "dport": dport = UInt16(try number(value, max: 65535))
            case "size": size = try number(value, max: 1400)
            case "to": to = try mac(value)
            case "from": from = try address(value)
            case "src-mac": srcMAC = try mac(value)
            case "vlan": vlan = [.ctag(UInt16(try number(value, max: 4095)))]
            case "df": dontFragment = try number(value, max: 1) == 1
            case "mode":
                guard let m = recordModes[value] else {
                    throw fail("unknown mode '\(value)'; expected \(recordModes.keys.sorted().joined(separator: ", "))")
                }
                mode = m
            case "sources":
                sources = []
                for word in value.split(separator: ",") { sources.append(try address(String(word))) }
            default: throw fail("unknown option '\(key)'; expected \(optionNames.sorted().joined(separator: ", "))")
            }
        }
        func source(for destination: IPAddress) throws(LabError) -> IPAddress {
            if let from { return from }
            guard let a = host.addresses.first(where: { $0.address.isIPv4 == destination.isIPv4 })?.address else {
                throw fail("\(host.name) has no \(destination.isIPv4 ? "IPv4" : "IPv6") address; give `from IP`")
            }
            return a
        }
        func destinationMAC(for ip: IPAddress) -> MACAddress {
            if let to { return to }
            if ip.isMulticast { return FrameBuilder.multicastMAC(for: ip) }
            if let h = spec.hosts.first(where: { $0.addresses.contains { $0.address == ip } }), let m = h.mac { return m }
            return .broadcast
        }
        func marker(_ n: Int) -> [UInt8] {
            let text = Array("difftest L\(line) #\(n)".utf8)
            return size > text.count ? text + Array(repeating: 0x2E, count: size - text.count) : text
        }
        guard count > 0 else { throw fail("count must be 1 or more") }
        var frames: [[UInt8]] = []
        switch kind {
        case "arp-request", "arp-reply":
            guard let p = positional else { throw fail("needs the target address") }
            let target = try address(p)
            let sender = try source(for: target)
            guard target.isIPv4, sender.isIPv4 else { throw fail("ARP is IPv4") }
            for _ in 0..<count {
                if kind == "arp-request" {
                    frames.append(FrameBuilder.arpRequest(srcMAC: srcMAC, vlan: vlan, senderIP: sender, targetIP: target))
                } else {
                    guard let to else { throw fail("needs `to MAC|HOST`") }
                    frames.append(FrameBuilder.arpReply(srcMAC: srcMAC, dstMAC: to, vlan: vlan, senderIP: sender, targetIP: target))
                }
            }
        case "udp", "icmp-echo":
            guard let p = positional else { throw fail("needs the destination address") }
            let dst = try address(p)
            let src = try source(for: dst)
            guard src.isIPv4 == dst.isIPv4 else { throw fail("source and destination of different families") }
            for n in 1...count {
                let payload = kind == "udp"
                    ? FrameBuilder.udpDatagram(src: src, dst: dst, srcPort: sport + UInt16((n - 1) % sportSpan), dstPort: dport, payload: marker(n))
                    : echoMessage(src: src, dst: dst, sequence: UInt16(truncatingIfNeeded: n), data: marker(n))
                let proto = kind == "udp" ? IPProtocol.udp : (dst.isIPv4 ? IPProtocol.icmp : IPProtocol.icmpv6)
                let packet = dst.isIPv4
                    ? FrameBuilder.ipv4Packet(src: src, dst: dst, protocol: proto, payload: payload, ttl: ttl,
                                              identification: UInt16(truncatingIfNeeded: n), dontFragment: dontFragment)
                    : FrameBuilder.ipv6Packet(src: src, dst: dst, nextHeader: proto, payload: payload, hopLimit: ttl)
                frames.append(FrameBuilder.ethernet(dst: destinationMAC(for: dst), src: srcMAC, vlan: vlan,
                                                    etherType: dst.isIPv4 ? EtherType.ipv4 : EtherType.ipv6, payload: packet))
            }
        case "igmp-report", "igmp-leave", "igmp-query":
            let group = try positional.map { (p: String) throws(LabError) in try address(p) } ?? .anyIPv4
            guard group.isIPv4, kind == "igmp-query" || group.isMulticast else { throw fail("needs an IPv4 group") }
            let src = try source(for: group)
            for _ in 0..<count {
                switch kind {
                case "igmp-report": frames.append(FrameBuilder.igmpv2Report(srcMAC: srcMAC, vlan: vlan, src: src, group: group))
                case "igmp-leave": frames.append(FrameBuilder.igmpv2Leave(srcMAC: srcMAC, vlan: vlan, src: src, group: group))
                default: frames.append(FrameBuilder.igmpQuery(srcMAC: srcMAC, vlan: vlan, src: src, group: group))
                }
            }
        case "igmpv3-report", "mldv2-report":
            let v4 = kind == "igmpv3-report"
            guard let p = positional else { throw fail("needs the group") }
            let group = try address(p)
            guard group.isMulticast, group.isIPv4 == v4 else { throw fail("'\(p)' is not an \(v4 ? "IPv4" : "IPv6") group") }
            guard let mode else { throw fail("needs `mode MODE`") }
            guard sources.allSatisfy({ $0.isIPv4 == v4 }) else { throw fail("sources of another family than the group") }
            let src = try source(for: group)
            let record = GroupRecord(kind: mode, group: group, sources: sources)
            for _ in 0..<count {
                frames.append(v4 ? FrameBuilder.igmpv3Report(srcMAC: srcMAC, vlan: vlan, src: src, records: [record])
                                 : FrameBuilder.mldv2Report(srcMAC: srcMAC, vlan: vlan, src: src, records: [record]))
            }
        case "raw":
            guard let p = positional, let bytes = hexBytes(p), bytes.count >= 14 else {
                throw fail("needs the frame as hex, at least 14 bytes")
            }
            frames = Array(repeating: bytes, count: count)
        default:
            throw fail("unknown kind; expected arp-request, arp-reply, udp, icmp-echo, igmp-report, igmp-leave, igmp-query, igmpv3-report, mldv2-report or raw")
        }
        return frames
    }

    static let optionNames: Set<String> = ["count", "ttl", "sport", "dport", "size", "to", "from", "src-mac", "vlan", "df",
                                           "mode", "sources"]

    /// `mode` words of an IGMPv3/MLDv2 group record.
    static let recordModes: [String: GroupRecord.Kind] = [
        "is-include": .modeIsInclude, "is-exclude": .modeIsExclude, "to-include": .changeToInclude,
        "to-exclude": .changeToExclude, "allow": .allowNewSources, "block": .blockOldSources,
    ]

    /// An ICMP or ICMPv6 echo request: identifier 0x4454 ("DT"), `sequence`, `data`.
    static func echoMessage(src: IPAddress, dst: IPAddress, sequence: UInt16, data: [UInt8]) -> [UInt8] {
        let body: [UInt8] = [0x44, 0x54, UInt8(sequence >> 8), UInt8(sequence & 0xFF)] + data
        return dst.isIPv4
            ? FrameBuilder.icmpMessage(type: ICMPType.echoRequest, code: 0, body: body)
            : FrameBuilder.icmpv6Message(src: src, dst: dst, type: ICMPv6Type.echoRequest, code: 0, body: body)
    }

    /// `0a1b…` (colons and dots allowed between bytes) as bytes.
    public static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = text.filter { $0 != ":" && $0 != "." }
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var i = digits.startIndex
        while i < digits.endIndex {
            let j = digits.index(i, offsetBy: 2)
            guard let b = UInt8(digits[i..<j], radix: 16) else { return nil }
            bytes.append(b)
            i = j
        }
        return bytes
    }
}

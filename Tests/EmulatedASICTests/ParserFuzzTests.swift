import EmulatedASIC
import Foundation
import SwitchDriver
import SwitchModel
import Testing

/// Random mutations of well-formed frames of every kind. The parser must never trap or
/// read out of bounds (the standard library checks every load in a debug build, and each
/// frame is parsed from a buffer of exactly its length), must return nil or a reason, must
/// report offsets inside the frame, and must give the same answer into a reused frame as
/// into a fresh one. Set `HOIST_FUZZ_SEED` to replay a printed seed.
@Suite("FrameParser: fuzz")
struct ParserFuzzTests {
    static let mutations = 120_000

    /// A well-formed frame of every kind the builder makes, tagged and untagged.
    static func corpus() -> [[UInt8]] {
        let a = Fixture.macA, b = Fixture.macB
        let v4 = (Fixture.ipA, Fixture.ipB), v6 = (Fixture.v6A, Fixture.v6B)
        var frames: [[UInt8]] = []
        for tags in [[], [VLANTag.ctag(10)], [.stag(20), .ctag(30)]] as [[VLANTag]] {
            for (s, d) in [v4, v6] {
                frames.append(FrameBuilder.udp(srcMAC: a, dstMAC: b, vlan: tags, src: s, dst: d, srcPort: 1, dstPort: 2,
                                               payload: [1, 2, 3]))
                frames.append(FrameBuilder.tcp(srcMAC: a, dstMAC: b, vlan: tags, src: s, dst: d, srcPort: 3, dstPort: 4, pad: false))
                frames.append(FrameBuilder.icmpEcho(srcMAC: a, dstMAC: b, vlan: tags, src: s, dst: d, pad: false))
                frames.append(FrameBuilder.vxlan(outerSrcMAC: a, outerDstMAC: b, vlan: tags, outerSrc: s, outerDst: d, srcPort: 5,
                                                 vni: 77, inner: FrameBuilder.udp(srcMAC: b, dstMAC: a, src: Fixture.ipB,
                                                                                  dst: Fixture.ipA, srcPort: 6, dstPort: 7)))
            }
            frames.append(FrameBuilder.arpRequest(srcMAC: a, vlan: tags, senderIP: Fixture.ipA, targetIP: Fixture.ipB, pad: false))
        }
        let group = IPAddress("239.1.1.1")!
        frames.append(FrameBuilder.arpReply(srcMAC: b, dstMAC: a, senderIP: Fixture.ipB, targetIP: Fixture.ipA))
        frames.append(FrameBuilder.igmpv2Report(srcMAC: a, src: Fixture.ipA, group: group, pad: false))
        frames.append(FrameBuilder.igmpv2Leave(srcMAC: a, src: Fixture.ipA, group: group))
        frames.append(FrameBuilder.igmpv3Report(srcMAC: a, src: Fixture.ipA, records: [GroupRecord(kind: .modeIsExclude, group: group)]))
        frames.append(FrameBuilder.mldv2Report(srcMAC: a, src: Fixture.linkLocalA,
                                               records: [GroupRecord(kind: .modeIsInclude, group: IPAddress("ff05::3")!,
                                                                     sources: [Fixture.v6A])]))
        frames.append(FrameBuilder.neighborSolicitation(srcMAC: a, src: Fixture.v6A, target: Fixture.v6B))
        frames.append(FrameBuilder.neighborAdvertisement(srcMAC: b, dstMAC: a, src: Fixture.v6B, dst: Fixture.v6A, target: Fixture.v6B))
        frames.append(FrameBuilder.stpConfigurationBPDU(srcMAC: a, rootID: 1, bridgeID: 2))
        frames.append(FrameBuilder.lldp(srcMAC: a, chassisID: a, portID: "swp1", systemName: "leaf"))
        let udp6 = FrameBuilder.udpDatagram(src: Fixture.v6A, dst: Fixture.v6B, srcPort: 8, dstPort: 4789,
                                            payload: [UInt8](repeating: 1, count: 30))
        frames.append(FrameBuilder.ethernet(dst: b, src: a, etherType: EtherType.ipv6, payload: FrameBuilder.ipv6Packet(
            src: Fixture.v6A, dst: Fixture.v6B, nextHeader: IPProtocol.udp, payload: udp6,
            extensionHeaders: [.hopByHop(options: FrameBuilder.ipv6RouterAlertOption), .destinationOptions(options: []),
                               .routing(type: 4, segmentsLeft: 0, data: []),
                               .fragment(offset: 0, moreFragments: true, identification: 1)])))
        frames.append(FrameBuilder.ethernet(dst: b, src: a, etherType: EtherType.ipv4, payload: FrameBuilder.ipv4Packet(
            src: Fixture.ipA, dst: Fixture.ipB, protocol: IPProtocol.udp, payload: [UInt8](repeating: 2, count: 16),
            moreFragments: true, fragmentOffset: 3, options: FrameBuilder.ipv4RouterAlertOption)))
        return frames
    }

    /// Parses `bytes` from a buffer of exactly their length, into `reused` and into a
    /// fresh frame, and returns what is wrong, if anything.
    static func check(_ bytes: [UInt8], options: ParserOptions, reused: inout ParsedFrame) -> String? {
        let exact = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        defer { exact.deallocate() }
        bytes.withUnsafeBytes { exact.copyMemory(from: $0) }
        let buffer = UnsafeRawBufferPointer(exact)
        let drop = FrameParser.parse(buffer, into: &reused, options: options)
        var fresh = ParsedFrame()
        let freshDrop = FrameParser.parse(buffer, into: &fresh, options: options)
        let f = fresh
        if drop != freshDrop || reused != fresh { return "reused frame differs from a fresh parse" }
        let n = bytes.count
        if f.length != n { return "length \(f.length) != \(n)" }
        if f.l3Offset > n || f.l4Offset > n || f.innerOffset > n { return "offset beyond the frame" }
        if f.tagCount > 2 { return "tagCount \(f.tagCount)" }
        if (f.dst | f.src | f.arpSenderMAC | f.arpTargetMAC) >> 48 != 0 { return "MAC wider than 48 bits" }
        guard drop == nil else { return nil }
        if n < 14 || f.l3Offset != 14 + 4 * Int(f.tagCount) { return "l3Offset \(f.l3Offset) with \(f.tagCount) tags" }
        if f.l3 == .none { return "accepted with l3 none" }
        if f.isIP {
            if f.l4Offset != f.l3Offset + f.ipHeaderLength { return "l4Offset != l3Offset + ipHeaderLength" }
            if f.ipHeaderLength > f.ipTotalLength || f.l3Offset + f.ipTotalLength > n { return "IP packet beyond the frame" }
            if f.isVXLAN && f.innerOffset + 14 > f.l3Offset + f.ipTotalLength { return "VXLAN inner frame beyond the packet" }
        } else if f.l4Offset != 0 || f.isVXLAN || f.srcPort != 0 {
            return "L4 fields on a non-IP frame"
        }
        if f.l3 == .arp && f.l3Offset + 28 > n { return "ARP beyond the frame" }
        if f.isVXLAN {
            var inner = ParsedFrame()
            _ = FrameParser.parse(UnsafeRawBufferPointer(rebasing: buffer[f.innerOffset...]), into: &inner, options: options)
        }
        return nil
    }

    @Test("Every truncation of every frame kind")
    func truncations() {
        var reused = ParsedFrame()
        var failures: [String] = []
        for (index, frame) in Self.corpus().enumerated() {
            #expect(FrameParser.parse(frame).drop == nil, "corpus frame \(index) is well-formed")
            for length in 0...frame.count {
                if let problem = Self.check(Array(frame.prefix(length)), options: ParserOptions(), reused: &reused) {
                    failures.append("frame \(index) cut to \(length): \(problem)")
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(5))")
    }

    @Test("Random mutations: byte flips, truncations, extensions, length and type fields")
    func mutations() {
        let seed = ProcessInfo.processInfo.environment["HOIST_FUZZ_SEED"]
            .flatMap { UInt64($0.replacingOccurrences(of: "0x", with: ""), radix: 16) } ?? 0x484F_4953_5450_4B54
        print("ParserFuzzTests: seed 0x\(String(seed, radix: 16)); set HOIST_FUZZ_SEED to replay")
        var rng = SplitMix64(seed: seed)
        let corpus = Self.corpus()
        let layouts = corpus.map { FrameParser.parse($0).frame ?? ParsedFrame() }
        var reused = ParsedFrame()
        var failures: [String] = []
        var verdicts: [String: Int] = [:]

        for iteration in 0..<Self.mutations {
            let pick = Int.random(in: 0..<corpus.count, using: &rng)
            var bytes = corpus[pick]
            let layout = layouts[pick]
            let l3 = layout.l3Offset, l4 = layout.l4Offset > 0 ? layout.l4Offset : l3 + 20
            var touchedIPv4Header = false
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                guard !bytes.isEmpty else { break }
                switch Int.random(in: 0..<8, using: &rng) {
                case 0:                                         // any byte
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                case 1, 2:                                      // a header byte
                    let position = Int.random(in: 12..<max(13, min(bytes.count, l4 + 24)), using: &rng)
                    if position < bytes.count {
                        bytes[position] = UInt8.random(in: 0...255, using: &rng)
                        touchedIPv4Header = touchedIPv4Header || (position >= l3 && position < l3 + 60)
                    }
                case 3:                                         // a length or type field
                    let fields = [12, 16, 20, l3, l3 + 2, l3 + 4, l3 + 6, l3 + 40, l3 + 42, l4, l4 + 4, l4 + 8, l4 + 12]
                    let position = fields[Int.random(in: 0..<fields.count, using: &rng)]
                    let values: [UInt16] = [0, 1, 4, 7, 8, 19, 20, 21, 28, 40, 0x0800, 0x86DD, 0x0806, 0x8100, 0x88A8, 0x9100,
                                            0x4500, 0x4F00, 0x6000, 0x0011, 0x2C00, 0x3A00, 0x0800,
                                            UInt16(truncatingIfNeeded: bytes.count - l3 - 1), UInt16(truncatingIfNeeded: bytes.count - l3),
                                            UInt16(truncatingIfNeeded: bytes.count - l3 + 1), 0xFFFF,
                                            UInt16.random(in: 0...UInt16.max, using: &rng)]
                    if position + 1 < bytes.count {
                        write16(&bytes, position, values[Int.random(in: 0..<values.count, using: &rng)])
                        touchedIPv4Header = true
                    }
                case 4:                                         // truncate
                    bytes.removeLast(Int.random(in: 0...bytes.count, using: &rng))
                case 5:                                         // extend
                    bytes += (0..<Int.random(in: 1...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                case 6:                                         // a protocol / next-header byte
                    let positions = [l3 + 6, l3 + 9, l3 + 40, l3 + 48]
                    let position = positions[Int.random(in: 0..<positions.count, using: &rng)]
                    let protocols: [UInt8] = [0, 1, 2, 6, 17, 43, 44, 58, 59, 60, 0xFF]
                    if position < bytes.count { bytes[position] = protocols[Int.random(in: 0..<protocols.count, using: &rng)] }
                    touchedIPv4Header = true
                default:                                        // several random bytes in a row
                    let start = Int.random(in: 0..<bytes.count, using: &rng)
                    for i in start..<min(bytes.count, start + 8) { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
                }
            }
            // Usually keep the IPv4 checksum right, so the deeper checks are reached.
            if touchedIPv4Header, layout.l3 == .ipv4, Bool.random(using: &rng), bytes.count >= l3 + 20 {
                fixIPv4Checksum(&bytes, l3: l3)
            }
            let options = ParserOptions(vxlanPort: Bool.random(using: &rng) ? 4789 : UInt16.random(in: 0...3, using: &rng),
                                        verifyIPv4Checksum: Int.random(in: 0..<4, using: &rng) != 0)
            if let problem = Self.check(bytes, options: options, reused: &reused) {
                failures.append("iteration \(iteration), corpus \(pick): \(problem): \(bytes.map { String($0, radix: 16) })")
                if failures.count >= 5 { break }
            }
            let verdict = FrameParser.parse(bytes, options: options).drop?.rawValue ?? "accepted"
            verdicts[verdict, default: 0] += 1
        }
        print("ParserFuzzTests: verdicts \(verdicts.sorted { $0.key < $1.key })")
        #expect(failures.isEmpty, "seed 0x\(String(seed, radix: 16)): \(failures)")
        // The mutations reach every parser verdict.
        for reason in [DropReason.truncatedEthernet, .truncatedVLANTag, .truncatedARP, .truncatedIPv4, .badIPv4Version,
                       .badIPv4HeaderLength, .badIPv4TotalLength, .badIPv4Checksum, .truncatedIPv6, .badIPv6Version,
                       .badIPv6PayloadLength, .truncatedL4, .badUDPLength,
                       .tooManyVLANTags, .badSourceMAC] {
            #expect(verdicts[reason.rawValue, default: 0] > 0, "no mutation produced \(reason)")
        }
    }
}

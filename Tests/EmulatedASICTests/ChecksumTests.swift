import EmulatedASIC
import SwitchModel
import Testing

@Suite("Internet checksum")
struct ChecksumTests {
    let a = Fixture.macA, b = Fixture.macB

    @Test("RFC 1071 §3 example: sum ddf2, checksum 220d; odd lengths pad with zero")
    func rfc1071Example() {
        let bytes: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]
        #expect(InternetChecksum.fold(InternetChecksum.add(bytes)) == 0xDDF2)
        #expect(InternetChecksum.checksum(bytes) == 0x220D)
        #expect(InternetChecksum.checksum([0xAB]) == ~UInt16(0xAB00))
        #expect(InternetChecksum.checksum([0x12, 0x34, 0x56]) == ~UInt16(0x1234 + 0x5600))
        #expect(InternetChecksum.checksum(bytes, range: 2..<6) == ~UInt16(0xE6F9))   // f203 + f4f5 with end-around carry
        bytes.withUnsafeBytes { raw in
            #expect(InternetChecksum.checksum(raw) == 0x220D)
        }
    }

    @Test("Built IPv4 headers verify to 0, with and without options")
    func ipv4HeadersVerify() throws {
        let frames = [
            FrameBuilder.udp(srcMAC: a, dstMAC: b, src: Fixture.ipA, dst: Fixture.ipB, srcPort: 1, dstPort: 2),
            FrameBuilder.igmpv2Report(srcMAC: a, src: Fixture.ipA, group: IPAddress("239.1.1.1")!),
            FrameBuilder.icmpEcho(srcMAC: a, dstMAC: b, vlan: [.ctag(7)], src: Fixture.ipA, dst: Fixture.ipB, ttl: 3),
            FrameBuilder.ip(srcMAC: a, dstMAC: b, src: Fixture.ipA, dst: Fixture.ipB, protocol: 99, payload: [1, 2, 3],
                            dontFragment: true, options: [1, 1, 1, 0, 0x94, 4, 0, 0]),
        ]
        for frame in frames {
            let f = try #require(parsed(frame))
            let header = f.l3Offset..<(f.l3Offset + f.ipHeaderLength)
            #expect(InternetChecksum.checksum(frame, range: header) == 0)
            #expect(InternetChecksum.verify(frame, range: header))
            frame.withUnsafeBytes { raw in
                #expect(InternetChecksum.verifyIPv4Header(raw, offset: f.l3Offset, length: f.ipHeaderLength))
            }
        }
    }

    @Test("UDP, TCP and ICMPv6 checksums verify with the pseudo-header, over IPv4 and IPv6")
    func transportChecksumsVerify() throws {
        let pairs = [(Fixture.ipA, Fixture.ipB), (Fixture.v6A, Fixture.v6B)]
        var frames: [[UInt8]] = []
        for (s, d) in pairs {
            frames.append(FrameBuilder.udp(srcMAC: a, dstMAC: b, src: s, dst: d, srcPort: 5353, dstPort: 53, payload: Array("odd".utf8)))
            frames.append(FrameBuilder.tcp(srcMAC: a, dstMAC: b, src: s, dst: d, srcPort: 80, dstPort: 5000, flags: [.ack, .psh],
                                           sequence: 7, acknowledgment: 9, payload: [UInt8](repeating: 0xA5, count: 33)))
        }
        frames.append(FrameBuilder.icmpEcho(srcMAC: a, dstMAC: b, src: Fixture.v6A, dst: Fixture.v6B, payload: [1, 2, 3]))
        frames.append(FrameBuilder.neighborSolicitation(srcMAC: a, src: Fixture.v6A, target: Fixture.v6B))
        frames.append(FrameBuilder.neighborAdvertisement(srcMAC: a, dstMAC: b, src: Fixture.v6A, dst: Fixture.v6B, target: Fixture.v6A))
        frames.append(FrameBuilder.mldv2Report(srcMAC: a, src: Fixture.linkLocalA,
                                               records: [GroupRecord(kind: .modeIsInclude, group: IPAddress("ff05::2")!,
                                                                     sources: [Fixture.v6A, Fixture.v6B])]))
        frames.append(FrameBuilder.vxlan(outerSrcMAC: a, outerDstMAC: b, outerSrc: Fixture.v6A, outerDst: Fixture.v6B,
                                         srcPort: 50000, vni: 5, inner: frames[0]))
        for frame in frames {
            let f = try #require(parsed(frame))
            let src = try #require(f.ipSource), dst = try #require(f.ipDestination)
            let end = f.l3Offset + f.ipTotalLength
            let segment = Array(frame[f.l4Offset..<end])
            #expect(InternetChecksum.verifyTransport(source: src, destination: dst, protocol: f.ipProtocol, segment: segment),
                    "protocol \(f.ipProtocol)")
            // Flipping a payload bit breaks it.
            var broken = segment
            broken[broken.count - 1] ^= 0x01
            #expect(!InternetChecksum.verifyTransport(source: src, destination: dst, protocol: f.ipProtocol, segment: broken))
        }
    }

    @Test("ICMP and IGMP checksums cover the message alone")
    func icmpAndIGMP() throws {
        for frame in [FrameBuilder.icmpEcho(srcMAC: a, dstMAC: b, src: Fixture.ipA, dst: Fixture.ipB, payload: [9, 9, 9]),
                      FrameBuilder.igmpv3Report(srcMAC: a, src: Fixture.ipA,
                                                records: [GroupRecord(kind: .allowNewSources, group: IPAddress("232.1.1.1")!,
                                                                      sources: [Fixture.ipB])])] {
            let f = try #require(parsed(frame))
            #expect(InternetChecksum.verify(frame, range: f.l4Offset..<(f.l3Offset + f.ipTotalLength)))
        }
    }

    @Test("RFC 1624 §4 example: eqn. 3 gives 0x0000")
    func rfc1624Example() {
        #expect(InternetChecksum.update(checksum: 0xDD2F, old: 0x5555, new: 0x3285) == 0x0000)
    }

    @Test("RFC 1624 incremental update equals a full recompute (TTL decrement, address rewrite)")
    func incrementalUpdate() {
        var rng = SplitMix64(seed: 0x1624)
        for _ in 0..<20_000 {
            // A random IPv4 header (with random options length) and a valid checksum.
            let ihl = Int.random(in: 5...15, using: &rng)
            var header = (0..<(ihl * 4)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            header[0] = 0x40 | UInt8(ihl)
            header[8] = UInt8.random(in: 1...255, using: &rng)
            write16(&header, 10, 0)
            write16(&header, 10, InternetChecksum.checksum(header))

            // TTL decrement: the TTL/protocol word changes.
            let oldWord = read16(header, 8)
            header[8] -= 1
            let newWord = read16(header, 8)
            let incremental = InternetChecksum.update(checksum: read16(header, 10), old: oldWord, new: newWord)
            write16(&header, 10, 0)
            let full = InternetChecksum.checksum(header)
            #expect(incremental == full)
            if incremental != full { break }
            write16(&header, 10, full)

            // Source address rewrite (32-bit form).
            let oldAddress = UInt32(read16(header, 12)) << 16 | UInt32(read16(header, 14))
            let newAddress = UInt32.random(in: 0...UInt32.max, using: &rng)
            write16(&header, 12, UInt16(newAddress >> 16))
            write16(&header, 14, UInt16(newAddress & 0xFFFF))
            let incremental32 = InternetChecksum.update(checksum: full, old32: oldAddress, new32: newAddress)
            write16(&header, 10, 0)
            #expect(incremental32 == InternetChecksum.checksum(header))
            if incremental32 != InternetChecksum.checksum(header) { break }
        }
    }

    @Test("Pseudo-header sums: IPv4 and IPv6 forms agree with the byte layout")
    func pseudoHeader() {
        // RFC 768 pseudo-header bytes for 10.0.0.1 → 10.0.0.2, UDP, length 13.
        let v4: [UInt8] = [10, 0, 0, 1, 10, 0, 0, 2, 0, 17, 0, 13]
        #expect(InternetChecksum.fold(InternetChecksum.pseudoHeaderSum(source: Fixture.ipA, destination: Fixture.ipB,
                                                                       protocol: 17, length: 13))
                == InternetChecksum.fold(InternetChecksum.add(v4)))
        // RFC 8200 §8.1: source, destination, 32-bit length, 3 zero bytes, next header.
        let v6 = Fixture.v6A.bytes + Fixture.v6B.bytes + [0, 0, 0x01, 0x02, 0, 0, 0, 58]
        #expect(InternetChecksum.fold(InternetChecksum.pseudoHeaderSum(source: Fixture.v6A, destination: Fixture.v6B,
                                                                       protocol: 58, length: 258))
                == InternetChecksum.fold(InternetChecksum.add(v6)))
    }
}

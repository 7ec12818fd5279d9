@testable import EmulatedASIC
import SwitchModel
import Testing

@Suite("IPv6 LPM table")
struct IPv6LPMTableTests {
    /// A prefix near one of a few anchors so prefixes nest, with lengths around the 64-bit
    /// boundary as well as /0 and /128.
    static func randomPrefix(_ rng: inout SplitMix64, anchors: [(UInt64, UInt64)]) -> (UInt64, UInt64, Int) {
        let (ah, al) = anchors[rng.below(anchors.count)]
        let keep = rng.below(129)
        let (kh, kl) = ReferenceLPM6.masked(.max, .max, keep)
        let h = (ah & kh) | (rng.next() & ~kh)
        let l = (al & kl) | (rng.next() & ~kl)
        let lengths = [0, 1, 8, 16, 32, 47, 48, 56, 63, 64, 65, 80, 96, 112, 127, 128]
        let len = rng.below(3) == 0 ? rng.below(129) : lengths[rng.below(lengths.count)]
        return (h, l, len)
    }

    @Test("random inserts, replaces and removes agree with a brute-force reference", arguments: [7, 8] as [UInt64])
    func randomAgainstReference(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let anchors = (0..<5).map { _ in (rng.next(), rng.next()) } + [(0, 0), (.max, .max)]
        var t = IPv6LPM(capacity: 1 << 20)
        var ref = ReferenceLPM6()
        for step in 1...1500 {
            let op = rng.below(100)
            if op < 60 || ref.entries.isEmpty {
                let (h, l, len) = Self.randomPrefix(&rng, anchors: anchors)
                let v = UInt32(rng.below(1 << 31))
                let old = ref.insert(h, l, len, v)
                #expect(t.insert(high: h, low: l, length: UInt8(len), value: v) == (old.map { .replaced(old: $0) } ?? .inserted),
                        "seed \(seed) step \(step): insert")
            } else if op < 90 {
                let e = ref.entries[rng.below(ref.entries.count)]
                _ = ref.remove(e.high, e.low, e.length)
                #expect(t.remove(high: e.high, low: e.low, length: UInt8(e.length)) == e.value, "seed \(seed) step \(step): remove")
            } else {
                let (h, l, len) = Self.randomPrefix(&rng, anchors: anchors)
                #expect(t.remove(high: h, low: l, length: UInt8(len)) == ref.remove(h, l, len), "seed \(seed) step \(step): remove maybe-absent")
            }
            #expect(t.count == ref.entries.count)
            if step % 250 == 0 || step == 1500 {
                var probes: [(UInt64, UInt64)] = (0..<60).map { _ in let p = Self.randomPrefix(&rng, anchors: anchors); return (p.0, p.1) }
                for e in ref.entries.prefix(40) {
                    let (mh, ml) = ReferenceLPM6.masked(.max, .max, e.length)
                    let (lastH, lastL) = (e.high | ~mh, e.low | ~ml)
                    probes += [(e.high, e.low), (lastH, lastL)]
                    // One before the first address and one after the last (128-bit ±1).
                    probes.append(e.low == 0 ? (e.high &- 1, .max) : (e.high, e.low - 1))
                    probes.append(lastL == .max ? (lastH &+ 1, 0) : (lastH, lastL + 1))
                }
                for (h, l) in probes {
                    #expect(t.lookup(high: h, low: l) == ref.lookup(h, l), "seed \(seed) step \(step): lookup \(h):\(l)")
                }
            }
        }
        var seen = 0
        t.forEach { h, l, len, v in
            seen += 1
            #expect(ref.index(h, l, Int(len)).map { ref.entries[$0].value } == v)
        }
        #expect(seen == ref.entries.count)
        for e in ref.entries {
            #expect(t.value(high: e.high, low: e.low, length: UInt8(e.length)) == e.value)
            #expect(t.remove(high: e.high, low: e.low, length: UInt8(e.length)) == e.value)
        }
        #expect(t.count == 0 && t.lookup(high: 0, low: 0) == nil)
    }

    @Test("capacity, default route, host routes and host bits")
    func capacityAndEdges() {
        var t = IPv6LPM(capacity: 2)
        #expect(t.insert(high: 0x2001_0db8_0000_0000, low: 5, length: 32, value: 1) == .inserted)
        #expect(t.value(high: 0x2001_0db8_ffff_0000, low: 0, length: 32) == 1, "host bits are ignored")
        #expect(t.insert(high: 0, low: 0, length: 0, value: 2) == .inserted)
        #expect(t.insert(high: 0x2001_0db8_0000_0001, low: 1, length: 128, value: 3) == .full)
        #expect(t.insert(high: 0, low: 0, length: 0, value: 4) == .replaced(old: 2))
        #expect(t.lookup(high: 0x2001_0db8_1234_0000, low: 9) == 1 && t.lookup(high: 0x2002 << 48, low: 0) == 4)
        t.capacity = 1
        #expect(t.insert(high: 0x2001_0db8_0000_0001, low: 1, length: 128, value: 3) == .full)
        #expect(t.remove(high: 0, low: 0, length: 0) == 4)
        #expect(t.remove(high: 0x2001_0db8_0000_0000, low: 0, length: 32) == 1)
        #expect(t.insert(high: 0x2001_0db8_0000_0001, low: 1, length: 128, value: 3) == .inserted)
        #expect(t.lookup(high: 0x2001_0db8_0000_0001, low: 1) == 3)
        #expect(t.lookup(high: 0x2001_0db8_0000_0001, low: 0) == nil && t.lookup(high: 0x2001_0db8_0000_0001, low: 2) == nil)
        #expect(t.insert(high: 0x2001_0db8_0000_0001, low: 0x8000_0000_0000_0000, length: 65, value: 5) == .full)
        t.capacity = 10
        #expect(t.insert(high: 0x2001_0db8_0000_0001, low: 0x8000_0000_0000_0000, length: 65, value: 5) == .inserted)
        #expect(t.insert(high: 0x2001_0db8_0000_0001, low: 0, length: 64, value: 6) == .inserted)
        #expect(t.lookup(high: 0x2001_0db8_0000_0001, low: 0x8000_0000_0000_0001) == 5)
        #expect(t.lookup(high: 0x2001_0db8_0000_0001, low: 0x7FFF_FFFF_FFFF_FFFF) == 6)
        #expect(t.lookup(high: 0x2001_0db8_0000_0001, low: 1) == 3)
    }
}

@testable import EmulatedASIC
import SwitchModel
import Testing

@Suite("IPv4 LPM table")
struct IPv4LPMTableTests {
    /// A prefix near one of a few anchors, so prefixes nest and share trie nodes.
    static func randomPrefix(_ rng: inout SplitMix64, anchors: [UInt32]) -> (UInt32, Int) {
        let anchor = anchors[rng.below(anchors.count)]
        let keep = rng.below(33)
        let a = (anchor & mask4(keep)) | (UInt32(truncatingIfNeeded: rng.next()) & ~mask4(keep))
        return (a, rng.below(33))
    }

    /// Lookups of random addresses and of every boundary (first, last, ±1) of `sample`.
    static func check(_ t: IPv4LPM, _ ref: ReferenceLPM4, _ rng: inout SplitMix64, anchors: [UInt32],
                      sample: [ReferenceLPM4.Entry], seed: UInt64, step: Int) {
        var addresses: [UInt32] = []
        for _ in 0..<100 { addresses.append(randomPrefix(&rng, anchors: anchors).0) }
        for _ in 0..<20 { addresses.append(UInt32(truncatingIfNeeded: rng.next())) }
        for e in sample {
            let last = e.prefix | ~mask4(e.length)
            addresses += [e.prefix, last, e.prefix &- 1, last &+ 1]
        }
        for a in addresses {
            let got = t.lookup(a)
            let want = ref.lookup(a)
            #expect(got == want, "seed \(seed) step \(step): lookup(\(hex(a))) = \(String(describing: got)), want \(String(describing: want))")
            if got != want { return }
        }
    }

    @Test("random inserts, replaces and removes agree with a brute-force reference", arguments: [1, 2, 3] as [UInt64])
    func randomAgainstReference(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let anchors = (0..<6).map { _ in UInt32(truncatingIfNeeded: rng.next()) } + [0, 0xFFFF_FFFF]
        var t = IPv4LPM(capacity: 1 << 20)
        var ref = ReferenceLPM4()
        for step in 1...2000 {
            let op = rng.below(100)
            if op < 60 || ref.entries.isEmpty {
                let (p, len) = Self.randomPrefix(&rng, anchors: anchors)
                let v = UInt32(rng.below(1 << 31))
                let old = ref.insert(p, len, v)
                let result = t.insert(p, length: UInt8(len), value: v)
                #expect(result == (old.map { .replaced(old: $0) } ?? .inserted), "seed \(seed) step \(step): insert \(hex(p))/\(len)")
            } else if op < 75 {
                let e = ref.entries[rng.below(ref.entries.count)]
                let v = UInt32(rng.below(1 << 31))
                _ = ref.insert(e.prefix, e.length, v)
                #expect(t.insert(e.prefix | (UInt32(truncatingIfNeeded: rng.next()) & ~mask4(e.length)), length: UInt8(e.length), value: v)
                    == .replaced(old: e.value), "seed \(seed) step \(step): replace")
            } else if op < 95 {
                let e = ref.entries[rng.below(ref.entries.count)]
                _ = ref.remove(e.prefix, e.length)
                #expect(t.remove(e.prefix, length: UInt8(e.length)) == e.value, "seed \(seed) step \(step): remove \(hex(e.prefix))/\(e.length)")
            } else {
                let (p, len) = Self.randomPrefix(&rng, anchors: anchors)
                #expect(t.remove(p, length: UInt8(len)) == ref.remove(p, len), "seed \(seed) step \(step): remove maybe-absent")
            }
            #expect(t.count == ref.entries.count, "seed \(seed) step \(step): count")
            if step % 200 == 0 {
                if step % 400 == 0 {
                    t.defragment()
                    let live = t.lookupBytes - t.unusedLookupBytes
                    #expect(t.unusedLookupBytes <= live / 8 + 4096, "seed \(seed): defragment leaves \(t.unusedLookupBytes) bytes unused")
                }
                let sample = (0..<min(40, ref.entries.count)).map { _ in ref.entries[rng.below(ref.entries.count)] }
                Self.check(t, ref, &rng, anchors: anchors, sample: sample, seed: seed, step: step)
            }
        }
        Self.check(t, ref, &rng, anchors: anchors, sample: ref.entries, seed: seed, step: -1)
        var seen = 0
        t.forEach { p, len, v in
            seen += 1
            #expect(ref.value(p, Int(len)) == v, "seed \(seed): forEach \(hex(p))/\(len)")
        }
        #expect(seen == ref.entries.count, "seed \(seed): forEach count")
        for e in ref.entries { #expect(t.value(e.prefix | ~mask4(e.length), length: UInt8(e.length)) == e.value) }
        // Remove everything: no nodes may be left behind.
        for e in ref.entries { #expect(t.remove(e.prefix, length: UInt8(e.length)) == e.value, "seed \(seed): drain") }
        #expect(t.count == 0 && t.level2Nodes == 0 && t.level3Nodes == 0, "seed \(seed): empty table keeps nodes")
        #expect(t.lookup(anchors[0]) == nil && t.lookup(0) == nil)
    }

    @Test("a full table refuses new prefixes and stays unchanged; shrinking refuses only new prefixes")
    func capacity() {
        var t = IPv4LPM(capacity: 3)
        #expect(t.insert(0x0A00_0000, length: 8, value: 1) == .inserted)
        #expect(t.insert(0x0A01_0000, length: 16, value: 2) == .inserted)
        #expect(t.insert(0x0A01_0200, length: 24, value: 3) == .inserted)
        let before = t.memoryBytes
        #expect(t.insert(0x0A01_0280, length: 25, value: 4) == .full)
        #expect(t.count == 3 && t.lookup(0x0A01_0281) == 3 && t.value(0x0A01_0280, length: 25) == nil)
        #expect(t.level3Nodes == 0 && t.memoryBytes == before)
        #expect(t.insert(0x0A01_0200, length: 24, value: 5) == .replaced(old: 3), "replacing is allowed when full")

        t.capacity = 1
        #expect(t.count == 3 && t.lookup(0x0A01_0201) == 5, "shrinking removes nothing")
        #expect(t.insert(0x0B00_0000, length: 8, value: 6) == .full)
        #expect(t.insert(0x0A00_0000, length: 8, value: 7) == .replaced(old: 1))
        #expect(t.remove(0x0A01_0200, length: 24) == 5)
        #expect(t.remove(0x0A01_0000, length: 16) == 2)
        #expect(t.insert(0x0B00_0000, length: 8, value: 6) == .full, "count 1 is still at capacity 1")
        #expect(t.remove(0x0A00_0000, length: 8) == 7)
        #expect(t.insert(0x0B00_0000, length: 8, value: 6) == .inserted)
        #expect(t.count == 1 && t.lookup(0x0B01_0203) == 6 && t.lookup(0x0A01_0203) == nil)
    }

    @Test("default route, host routes, and the edges of the address space")
    func defaultAndHostRoutes() {
        var t = IPv4LPM(capacity: 100)
        #expect(t.lookup(0) == nil && t.lookup(.max) == nil)
        #expect(t.insert(0x1234_5678, length: 0, value: 9) == .inserted, "host bits of a /0 are ignored")
        #expect(t.value(0, length: 0) == 9)
        for a: UInt32 in [0, 1, 0x7FFF_FFFF, 0x8000_0000, .max] { #expect(t.lookup(a) == 9) }
        #expect(t.insert(.max, length: 32, value: 1) == .inserted)
        #expect(t.insert(0, length: 32, value: 2) == .inserted)
        #expect(t.insert(0x0A00_0001, length: 32, value: 3) == .inserted)
        #expect(t.lookup(.max) == 1 && t.lookup(.max - 1) == 9)
        #expect(t.lookup(0) == 2 && t.lookup(1) == 9)
        #expect(t.lookup(0x0A00_0001) == 3 && t.lookup(0x0A00_0000) == 9 && t.lookup(0x0A00_0002) == 9)
        #expect(t.remove(0, length: 0) == 9)
        #expect(t.lookup(1) == nil && t.lookup(0) == 2 && t.lookup(.max) == 1)
        #expect(t.remove(0, length: 0) == nil)
        #expect(t.insert(0x8000_0000, length: 1, value: 4) == .inserted)
        #expect(t.lookup(.max) == 1 && t.lookup(.max - 1) == 4 && t.lookup(0x7FFF_FFFF) == nil)
        #expect(t.insert(0x0A00_0000, length: 32, value: 0x7FFF_FFFF) == .inserted, "the largest value")
        #expect(t.lookup(0x0A00_0000) == 0x7FFF_FFFF)
    }

    @Test("nested prefixes across all three levels, removed in every order")
    func nestedRemovalOrders() {
        let nested: [(UInt32, Int)] = [(0, 0), (0xC0A8_0000, 12), (0xC0A8_1000, 20), (0xC0A8_1280, 26), (0xC0A8_1281, 32)]
        let probes: [UInt32] = [0, 0xC0A0_0000, 0xC0AF_FFFF, 0xC0A8_1000, 0xC0A8_1FFF, 0xC0A8_1280, 0xC0A8_12BF,
                                0xC0A8_1281, 0xC0A8_1282, 0xC0A8_127F, 0xC0A8_12C0, .max]
        for order in permutations(Array(nested.indices)) {
            var t = IPv4LPM(capacity: 10)
            var ref = ReferenceLPM4()
            for (i, (p, len)) in nested.enumerated() {
                _ = t.insert(p, length: UInt8(len), value: UInt32(i + 1))
                _ = ref.insert(p, len, UInt32(i + 1))
            }
            for i in order {
                let (p, len) = nested[i]
                #expect(t.remove(p, length: UInt8(len)) == ref.remove(p, len))
                for a in probes { #expect(t.lookup(a) == ref.lookup(a), "order \(order): after removing /\(len), lookup \(hex(a))") }
            }
            #expect(t.level2Nodes == 0 && t.level3Nodes == 0)
        }
    }

    @Test("freed nodes are recycled: churn does not grow the store")
    func churnReusesMemory() {
        var t = IPv4LPM(capacity: 10_000)
        var rng = SplitMix64(seed: 42)
        let prefixes = (0..<500).map { _ in (UInt32(truncatingIfNeeded: rng.next()), 20 + rng.below(13)) }
        for (p, len) in prefixes { _ = t.insert(p, length: UInt8(len), value: 1) }
        for (p, len) in prefixes { _ = t.remove(p, length: UInt8(len)) }
        let settled = t.lookupBytes
        for round in 0..<3 {
            for (p, len) in prefixes { _ = t.insert(p, length: UInt8(len), value: UInt32(round)) }
            for (p, len) in prefixes { _ = t.remove(p, length: UInt8(len)) }
        }
        #expect(t.lookupBytes == settled)
        #expect(t.count == 0 && t.level2Nodes == 0 && t.level3Nodes == 0)
    }
}

@Suite("Prefix hash maps")
struct PrefixMapTableTests {
    @Test("IPv4 and IPv6 per-length maps agree with Dictionary under inserts, updates and removes")
    func againstDictionary() {
        var rng = SplitMix64(seed: 99)
        var m4 = PrefixMap()
        var m6 = PrefixMap6()
        var r4: [UInt32: UInt32] = [:]
        var r6: [[UInt64]: UInt32] = [:]
        // Few distinct keys so probe runs collide, wrap and shift back on removal.
        let keys4 = (0..<300).map { _ in UInt32(truncatingIfNeeded: rng.next()) & 0xFFFF_FF00 } + [0, .max]
        let keys6 = (0..<300).map { _ in [rng.next(), rng.below(2) == 0 ? 0 : rng.next()] } + [[0, 0], [.max, .max]]
        for step in 0..<5000 {
            let v = UInt32(rng.below(1 << 31))
            let k4 = keys4[rng.below(keys4.count)]
            let k6 = keys6[rng.below(keys6.count)]
            if rng.below(3) == 0 {
                #expect(m4.removeValue(forKey: k4) == r4.removeValue(forKey: k4), "step \(step)")
                #expect(m6.removeValue(high: k6[0], low: k6[1]) == r6.removeValue(forKey: k6), "step \(step)")
            } else {
                #expect(m4.updateValue(v, forKey: k4) == r4.updateValue(v, forKey: k4), "step \(step)")
                #expect(m6.updateValue(v, high: k6[0], low: k6[1]) == r6.updateValue(v, forKey: k6), "step \(step)")
            }
            #expect(m4.count == r4.count && m6.count == r6.count)
        }
        for k in keys4 { #expect(m4[k] == r4[k]) }
        for k in keys6 { #expect(m6[k[0], k[1]] == r6[k]) }
        var n4 = 0, n6 = 0
        m4.forEach { k, v in n4 += 1; #expect(r4[k] == v) }
        m6.forEach { h, l, v in n6 += 1; #expect(r6[[h, l]] == v) }
        #expect(n4 == r4.count && n6 == r6.count)
    }
}

func hex(_ a: UInt32) -> String { "0x" + String(a, radix: 16) }

func permutations(_ items: [Int]) -> [[Int]] {
    if items.count <= 1 { return [items] }
    var result: [[Int]] = []
    for (i, x) in items.enumerated() {
        var rest = items
        rest.remove(at: i)
        for p in permutations(rest) { result.append([x] + p) }
    }
    return result
}

@testable import EmulatedASIC
import SwitchModel
import Testing

/// Empty slots among `key`'s two candidate buckets, counted from the raw key array.
func freeSlots(_ t: MACTable, _ key: UInt64) -> Int {
    let (first, second, _) = t.hashed(key)
    let starts = first == second ? [first] : [first, second]
    return starts.reduce(0) { n, start in n + (start..<(start + t.ways)).filter { t.keys[$0] == MACTable.emptyKey }.count }
}

@Suite("MAC table (FDB)")
struct MACTableTests {
    let a = MACKey.make(fid: 1, mac: 0x02_00_00_00_00_01)
    let b = MACKey.make(fid: 1, mac: 0x02_00_00_00_00_02)
    let aInOtherFID = MACKey.make(fid: 2, mac: 0x02_00_00_00_00_01)

    @Test("keys pack the FID above the 48-bit MAC")
    func keys() {
        let k = MACKey.make(fid: 0xABC, mac: 0xFFFF_FFFF_FFFF)
        #expect(k == 0x0ABC_FFFF_FFFF_FFFF && MACKey.fid(k) == 0xABC && MACKey.mac(k) == 0xFFFF_FFFF_FFFF)
        #expect(a != aInOtherFID)
        let reserved = MACKey.make(fid: 0xFFFF, mac: 0xFFFF_FFFF_FFFF)
        let t = MACTable(capacity: 8)
        #expect(t.lookup(reserved) == nil && !t.isStatic(reserved), "the empty-slot marker is never found")
    }

    @Test("learn, refresh, move, static and remove outcomes")
    func outcomes() {
        var t = MACTable(capacity: 64)
        #expect(t.lookup(a) == nil)
        #expect(t.learn(a, destination: 3, now: 10) == .learned)
        #expect(t.lookup(a) == 3 && t.lookup(aInOtherFID) == nil && t.count == 1)
        #expect(t.learn(a, destination: 3, now: 20) == .refreshed)
        #expect(t.lastSeen(a) == 20)
        #expect(t.learn(a, destination: 4, now: 30) == .moved(from: 3))
        #expect(t.lookup(a) == 4 && t.lastSeen(a) == 30 && t.count == 1)
        #expect(t.setStatic(a, destination: 5) == .refreshed, "a static entry replaces a dynamic one")
        #expect(t.isStatic(a) && t.lookup(a) == 5)
        #expect(t.learn(a, destination: 6, now: 40) == .isStatic)
        #expect(t.lookup(a) == 5 && t.lastSeen(a) == 30, "learning never changes a static entry")
        #expect(t.setStatic(a, destination: 7) == .refreshed)
        #expect(t.setStatic(b, destination: 8) == .learned)
        #expect(t.isStatic(b) && t.lookup(b) == 8 && t.count == 2)
        #expect(t.remove(a)! == (destination: 7, isStatic: true, isSticky: true))
        #expect(t.remove(a) == nil && t.lookup(a) == nil && t.count == 1)
        #expect(t.learn(a, destination: 1, now: 50) == .learned)
        #expect(!t.isStatic(a))
        #expect(t.remove(a)! == (destination: 1, isStatic: false, isSticky: false))
        // A static entry that is not sticky reports a MAC seen elsewhere, and stays.
        #expect(t.setStatic(a, destination: 3, sticky: false) == .learned)
        #expect(t.learn(a, destination: 3, now: 60) == .isStatic)
        #expect(t.learn(a, destination: 4, now: 60) == .staticElsewhere(3))
        #expect(t.lookup(a) == 3 && t.remove(a)! == (destination: 3, isStatic: true, isSticky: false))
    }

    @Test("a full bucket refuses a MAC while the table has room; a full table refuses every new MAC")
    func bucketFullVersusTableFull() {
        var t = MACTable(capacity: 16, ways: 4)
        #expect(t.capacity == 16 && t.limit == 16)
        var rng = SplitMix64(seed: 5)
        var refused: UInt64?
        var learned: [UInt64] = []
        while refused == nil {
            let k = MACKey.make(fid: 1, mac: rng.next() & 0xFFFF_FFFF_FFFF)
            let before = t.count
            switch t.learn(k, destination: 1, now: 0) {
            case .learned: learned.append(k)
            case .bucketFull:
                refused = k
                #expect(freeSlots(t, k) == 0, "both buckets are full")
                #expect(t.count == before, "a refused MAC changes nothing")
            default:
                Issue.record("unexpected outcome")
                refused = 0
            }
        }
        #expect(t.count < t.capacity, "the table still has room elsewhere")
        #expect(t.lookup(refused!) == nil)
        #expect(t.setStatic(refused!, destination: 2) == .bucketFull)
        for k in learned { #expect(t.lookup(k) == 1) }

        // Shrink the limit to the current count: new MACs are refused even where there is room.
        t.limit = t.count
        var fits: UInt64 = 0
        repeat { fits = MACKey.make(fid: 1, mac: rng.next() & 0xFFFF_FFFF_FFFF) } while freeSlots(t, fits) == 0 || t.lookup(fits) != nil
        #expect(t.learn(fits, destination: 1, now: 0) == .tableFull)
        #expect(t.setStatic(fits, destination: 1) == .tableFull)
        // Known MACs still refresh and move; removal makes room again.
        #expect(t.learn(learned[0], destination: 1, now: 9) == .refreshed)
        #expect(t.learn(learned[0], destination: 2, now: 9) == .moved(from: 1))
        t.limit = 2
        #expect(t.learn(learned[1], destination: 3, now: 9) == .moved(from: 1), "over the limit, existing entries still move")
        for k in learned.dropFirst(2) { #expect(t.remove(k) != nil) }
        #expect(t.count == 2 && t.learn(fits, destination: 1, now: 0) == .tableFull)
        _ = t.remove(learned[1])
        #expect(t.learn(fits, destination: 1, now: 0) == .learned)
    }

    @Test("ageing removes only dynamic entries older than the age and reports each")
    func ageing() {
        var t = MACTable(capacity: 64)
        let keys = (0..<10).map { MACKey.make(fid: 7, mac: 0x0200_0000_0000 + UInt64($0)) }
        for (i, k) in keys.enumerated() { _ = t.learn(k, destination: UInt32(i), now: UInt32(i * 10)) }
        _ = t.setStatic(keys[0], destination: 99)
        _ = t.learn(keys[1], destination: 1, now: 95)  // refreshed: stays
        var removed: [UInt64: UInt32] = [:]
        t.age(now: 100, maxAge: 50) { removed[$0] = $1 }
        // lastSeen ≤ 50 expire: keys 2…5 (20…50); key 0 is static, key 1 was refreshed.
        #expect(removed == [keys[2]: 2, keys[3]: 3, keys[4]: 4, keys[5]: 5])
        #expect(t.count == 6 && t.lookup(keys[0]) == 99 && t.lookup(keys[1]) == 1 && t.lookup(keys[6]) == 6)
        var asked = 0
        t.age(now: 200, isExpired: { _, seen in asked += 1; return seen < 80 }) { removed[$0] = $1 }
        #expect(asked == 5, "static entries are not even asked about")
        #expect(t.count == 4 && t.lookup(keys[8]) == 8 && t.lookup(keys[9]) == 9 && t.lookup(keys[7]) == nil)
        // A clock that wrapped: now < lastSeen still ages by the wrapped difference.
        var w = MACTable(capacity: 8)
        _ = w.learn(a, destination: 1, now: .max - 5)
        w.age(now: 10, maxAge: 20) { _, _ in }
        #expect(w.count == 1)
        w.age(now: 20, maxAge: 20) { _, _ in }
        #expect(w.count == 0)
    }

    @Test("removeAll flushes by destination, static and dynamic, and forEach sees every entry")
    func flushAndForEach() {
        var t = MACTable(capacity: 256)
        var want: [UInt64: (UInt32, Bool, UInt32)] = [:]
        for i in 0..<100 {
            let k = MACKey.make(fid: UInt16(i % 3), mac: 0x0200_0000_1000 + UInt64(i))
            if i % 7 == 0 {
                #expect(t.setStatic(k, destination: UInt32(i % 5)) == .learned)
                want[k] = (UInt32(i % 5), true, 0)
            } else {
                #expect(t.learn(k, destination: UInt32(i % 5), now: UInt32(i)) == .learned)
                want[k] = (UInt32(i % 5), false, UInt32(i))
            }
        }
        var seen = 0
        t.forEach { k, d, s, l in
            seen += 1
            #expect(want[k].map { $0 == (d, s, l) } == true)
        }
        #expect(seen == 100)
        var flushed: [UInt64: UInt32] = [:]
        t.removeAll(where: { _, d, _ in d == 3 }) { flushed[$0] = $1 }
        #expect(flushed.count == want.values.filter { $0.0 == 3 }.count && flushed.values.allSatisfy { $0 == 3 })
        #expect(t.count == 100 - flushed.count)
        // Flush dynamic entries of FID 1 only.
        t.removeAll(where: { k, _, s in !s && MACKey.fid(k) == 1 }) { k, _ in flushed[k] = 0 }
        t.forEach { k, d, s, _ in #expect(d != 3 && (s || MACKey.fid(k) != 1)) }
    }

    @Test("random operations agree with a Dictionary reference", arguments: [(11, 4), (12, 8), (13, 8)] as [(UInt64, Int)])
    func randomAgainstReference(seed: UInt64, ways: Int) {
        struct Entry: Equatable { var destination: UInt32; var isStatic: Bool; var lastSeen: UInt32 }
        var rng = SplitMix64(seed: seed)
        var t = MACTable(capacity: 1024, ways: ways)
        t.limit = 700
        var ref: [UInt64: Entry] = [:]
        let pool = (0..<1200).map { _ in MACKey.make(fid: UInt16(rng.below(4)), mac: rng.next() & 0xFEFF_FFFF_FFFF) }
        for step in 1...6000 {
            let k = pool[rng.below(pool.count)]
            let d = UInt32(rng.below(8))
            let now = UInt32(step)
            let op = rng.below(100)
            if step % 8 == 0 {
                for k in pool.prefix(50) { #expect(t.lookup(k) == ref[k]?.destination, "seed \(seed) step \(step): lookup") }
            }
            if op < 70 {
                let canAdd = freeSlots(t, k) > 0
                let got = t.learn(k, destination: d, now: now)
                let want: LearnOutcome
                if let e = ref[k] {
                    if e.isStatic {
                        want = .isStatic
                    } else {
                        want = e.destination == d ? .refreshed : .moved(from: e.destination)
                        ref[k] = Entry(destination: d, isStatic: false, lastSeen: now)
                    }
                } else if ref.count >= t.limit {
                    want = .tableFull
                } else if !canAdd {
                    want = .bucketFull
                } else {
                    want = .learned
                    ref[k] = Entry(destination: d, isStatic: false, lastSeen: now)
                }
                #expect(got == want, "seed \(seed) step \(step): learn")
            } else if op < 75 {
                let canAdd = freeSlots(t, k) > 0
                let got = t.setStatic(k, destination: d)
                if let e = ref[k] {
                    #expect(got == .refreshed, "seed \(seed) step \(step): setStatic existing")
                    ref[k] = Entry(destination: d, isStatic: true, lastSeen: e.lastSeen)
                } else if ref.count >= t.limit {
                    #expect(got == .tableFull)
                } else if !canAdd {
                    #expect(got == .bucketFull)
                } else {
                    #expect(got == .learned)
                    ref[k] = Entry(destination: d, isStatic: true, lastSeen: 0)
                }
            } else if op < 95 {
                let got = t.remove(k)
                let e = ref.removeValue(forKey: k)
                #expect(got?.destination == e?.destination && got?.isStatic == e?.isStatic, "seed \(seed) step \(step): remove")
            } else if op < 98 {
                var aged: Set<UInt64> = []
                t.age(now: now, maxAge: 400) { key, _ in aged.insert(key) }
                let want = Set(ref.filter { !$0.value.isStatic && now &- $0.value.lastSeen >= 400 }.keys)
                #expect(aged == want, "seed \(seed) step \(step): age")
                for key in want { ref[key] = nil }
            } else {
                var flushed: Set<UInt64> = []
                t.removeAll(where: { _, dest, _ in dest == d }) { key, _ in flushed.insert(key) }
                let want = Set(ref.filter { $0.value.destination == d }.keys)
                #expect(flushed == want, "seed \(seed) step \(step): flush")
                for key in want { ref[key] = nil }
            }
            #expect(t.count == ref.count, "seed \(seed) step \(step): count")
        }
        for k in pool { #expect(t.lookup(k) == ref[k]?.destination, "seed \(seed): final lookup") }
        // Fingerprints: every live slot has its key's, every empty slot 0.
        for i in t.keys.indices {
            #expect(t.tags[i] == (t.keys[i] == MACTable.emptyKey ? 0 : t.hashed(t.keys[i]).tag), "seed \(seed): tag of slot \(i)")
        }
        var seen = 0
        t.forEach { k, d, s, l in
            seen += 1
            #expect(ref[k] == Entry(destination: d, isStatic: s, lastSeen: l), "seed \(seed): forEach")
        }
        #expect(seen == ref.count)
    }
}

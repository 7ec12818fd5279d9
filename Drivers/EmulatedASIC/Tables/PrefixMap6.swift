/// The IPv6 prefixes of one length: an open-addressing hash map from a masked 128-bit
/// prefix (two big-endian halves) to its value (< 2^31), in three parallel arrays, with
/// linear probing, backward-shift deletion (no tombstones), at most 3/4 full. An empty slot
/// holds the value `empty` (stored values are < 2^31).
struct PrefixMap6: Sendable {
    static var empty: UInt32 { .max }

    private var high: [UInt64]
    private var low: [UInt64]
    private var values: [UInt32]
    private var shift: UInt64
    private(set) var count: Int

    init() {
        high = [UInt64](repeating: 0, count: 8)
        low = [UInt64](repeating: 0, count: 8)
        values = [UInt32](repeating: Self.empty, count: 8)
        shift = 64 - 3
        count = 0
    }

    /// Bytes held.
    var bytes: Int { high.capacity * 8 + low.capacity * 8 + values.capacity * 4 }

    /// A 64-bit mix of both halves; the top bits pick the home slot.
    @inline(__always)
    static func home(_ h: UInt64, _ l: UInt64, _ shift: UInt64) -> Int {
        var x = h ^ (l &* 0x9E37_79B9_7F4A_7C15)
        x ^= x >> 31
        x &*= 0xBF58_476D_1CE4_E5B9
        return Int(truncatingIfNeeded: x >> shift)
    }

    /// The slot holding the prefix, or the empty slot where it would go.
    @inline(__always)
    private func find(_ h: UInt64, _ l: UInt64) -> (index: Int, found: Bool) {
        high.withUnsafeBufferPointer { hs in
            low.withUnsafeBufferPointer { ls in
                values.withUnsafeBufferPointer { vs in
                    let mask = vs.count - 1
                    var i = Self.home(h, l, shift)
                    while true {
                        if vs[i] == Self.empty { return (i, false) }
                        if hs[i] == h && ls[i] == l { return (i, true) }
                        i = (i + 1) & mask
                    }
                }
            }
        }
    }

    subscript(h: UInt64, l: UInt64) -> UInt32? {
        let (i, found) = find(h, l)
        return found ? values[i] : nil
    }

    /// Sets the value of the prefix; returns the previous value.
    mutating func updateValue(_ value: UInt32, high h: UInt64, low l: UInt64) -> UInt32? {
        if (count + 1) * 4 > values.count * 3 { grow() }
        let (i, found) = find(h, l)
        if found {
            defer { values[i] = value }
            return values[i]
        }
        high[i] = h
        low[i] = l
        values[i] = value
        count += 1
        return nil
    }

    /// Removes the prefix; returns its value. Later entries of the probe run shift back.
    mutating func removeValue(high h: UInt64, low l: UInt64) -> UInt32? {
        let (found, foundAt) = { let r = find(h, l); return (r.found, r.index) }()
        guard found else { return nil }
        let old = values[foundAt]
        let mask = values.count - 1
        var hole = foundAt
        var j = hole
        while true {
            j = (j + 1) & mask
            if values[j] == Self.empty { break }
            let home = Self.home(high[j], low[j], shift)
            // Move entry j into the hole unless its home lies cyclically in (hole, j].
            if (j - home) & mask >= (j - hole) & mask {
                high[hole] = high[j]
                low[hole] = low[j]
                values[hole] = values[j]
                hole = j
            }
        }
        values[hole] = Self.empty
        count -= 1
        return old
    }

    /// Calls `body(high, low, value)` for every entry.
    func forEach(_ body: (UInt64, UInt64, UInt32) -> Void) {
        for i in values.indices where values[i] != Self.empty { body(high[i], low[i], values[i]) }
    }

    private mutating func grow() {
        let (oldHigh, oldLow, oldValues) = (high, low, values)
        let size = values.count * 2
        high = [UInt64](repeating: 0, count: size)
        low = [UInt64](repeating: 0, count: size)
        values = [UInt32](repeating: Self.empty, count: size)
        shift -= 1
        count = 0
        for i in oldValues.indices where oldValues[i] != Self.empty {
            _ = updateValue(oldValues[i], high: oldHigh[i], low: oldLow[i])
        }
    }
}

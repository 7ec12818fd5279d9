/// The control-plane set of the IPv4 prefixes of one length: an open-addressing hash map
/// from a masked prefix to its value (< 2^31), one `UInt64` slot per entry
/// (`prefix << 32 | value`), linear probing, backward-shift deletion (no tombstones), at
/// most 3/4 full. Cheaper than `Dictionary` (no per-process seeded SipHash) for the
/// route table's exact matches and covering-prefix probes.
struct PrefixMap: Sendable {
    /// An empty slot (a stored value is < 2^31, so no entry looks like this).
    static var empty: UInt64 { .max }

    private var slots: [UInt64]
    private var shift: UInt64
    private(set) var count: Int

    init() {
        slots = [UInt64](repeating: Self.empty, count: 8)
        shift = 64 - 3
        count = 0
    }

    /// Bytes held.
    var bytes: Int { slots.capacity * 8 }

    /// Fibonacci hashing: the top bits of the product.
    @inline(__always)
    private static func home(_ prefix: UInt32, _ shift: UInt64) -> Int {
        Int(truncatingIfNeeded: (UInt64(prefix) &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// The slot holding `prefix`, or the empty slot where it would go.
    @inline(__always)
    private static func find(_ s: UnsafeBufferPointer<UInt64>, _ shift: UInt64, _ prefix: UInt32) -> (index: Int, found: Bool) {
        let mask = s.count - 1
        var i = home(prefix, shift)
        while true {
            let x = s[i]
            if x == Self.empty { return (i, false) }
            if UInt32(truncatingIfNeeded: x >> 32) == prefix { return (i, true) }
            i = (i + 1) & mask
        }
    }

    subscript(prefix: UInt32) -> UInt32? {
        slots.withUnsafeBufferPointer { s in
            let (i, found) = Self.find(s, shift, prefix)
            return found ? UInt32(truncatingIfNeeded: s[i]) : nil
        }
    }

    /// Sets the value of `prefix`; returns the previous value.
    mutating func updateValue(_ value: UInt32, forKey prefix: UInt32) -> UInt32? {
        if (count + 1) * 4 > slots.count * 3 { grow() }
        let shift = self.shift
        let old: UInt32? = slots.withUnsafeMutableBufferPointer { s in
            let (i, found) = Self.find(UnsafeBufferPointer(s), shift, prefix)
            let old: UInt32? = found ? UInt32(truncatingIfNeeded: s[i]) : nil
            s[i] = UInt64(prefix) << 32 | UInt64(value)
            return old
        }
        if old == nil { count += 1 }
        return old
    }

    /// Removes `prefix`; returns its value. Later entries of the probe run shift back.
    mutating func removeValue(forKey prefix: UInt32) -> UInt32? {
        let shift = self.shift
        let old: UInt32? = slots.withUnsafeMutableBufferPointer { s in
            let (foundAt, found) = Self.find(UnsafeBufferPointer(s), shift, prefix)
            guard found else { return nil }
            let value = UInt32(truncatingIfNeeded: s[foundAt])
            let mask = s.count - 1
            var hole = foundAt
            var j = hole
            while true {
                j = (j + 1) & mask
                let x = s[j]
                if x == Self.empty { break }
                let h = Self.home(UInt32(truncatingIfNeeded: x >> 32), shift)
                // Move x into the hole unless its home lies cyclically in (hole, j].
                if (j - h) & mask >= (j - hole) & mask {
                    s[hole] = x
                    hole = j
                }
            }
            s[hole] = Self.empty
            return value
        }
        if old != nil { count -= 1 }
        return old
    }

    /// Calls `body(prefix, value)` for every entry.
    func forEach(_ body: (UInt32, UInt32) -> Void) {
        for x in slots where x != Self.empty { body(UInt32(truncatingIfNeeded: x >> 32), UInt32(truncatingIfNeeded: x)) }
    }

    private mutating func grow() {
        let old = slots
        slots = [UInt64](repeating: Self.empty, count: old.count * 2)
        shift -= 1
        let shift = self.shift
        slots.withUnsafeMutableBufferPointer { s in
            let mask = s.count - 1
            for x in old where x != Self.empty {
                var i = Self.home(UInt32(truncatingIfNeeded: x >> 32), shift)
                while s[i] != Self.empty { i = (i + 1) & mask }
                s[i] = x
            }
        }
    }
}

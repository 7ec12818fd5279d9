/// The emulated chip's IPv6 route table: longest-prefix match from a 128-bit address, given
/// as its big-endian halves `(high, low)`, to an opaque 31-bit value, with a hardware-like
/// prefix capacity. Same contract as `IPv4LPM`.
///
/// Hardware counterpart: a switch ASIC's IPv6 LPM (often a TCAM or hash tables per prefix
/// length); software counterpart: the kernel's `fib6` radix tree.
///
/// Structure: one hash table per prefix length in use (`PrefixMap6`), probed from the
/// longest length in use to the shortest; the first hit is the longest match. The list of
/// lengths in use is kept sorted, so a lookup costs one probe per distinct length present
/// (a few dozen at most in real tables), and inserts and removes one probe each.
public struct IPv6LPM: Sendable {
    /// Per length 0...128: the prefixes of that length.
    var tables: [PrefixMap6]
    /// Lengths with at least one prefix, longest first, with their masks.
    var inUse: [(length: Int, high: UInt64, low: UInt64)]

    /// The number of prefixes in the table.
    public private(set) var count: Int

    /// The most prefixes the table accepts. Settable: lowering it below `count` (fault
    /// injection "shrink a table") removes nothing, it only refuses new prefixes until enough
    /// are removed; replacing the value of a present prefix is always allowed.
    public var capacity: Int {
        didSet { precondition(capacity >= 0, "IPv6LPM capacity must be ≥ 0") }
    }

    /// An empty table that accepts up to `capacity` prefixes.
    public init(capacity: Int) {
        precondition(capacity >= 0, "IPv6LPM capacity must be ≥ 0")
        self.capacity = capacity
        tables = [PrefixMap6](repeating: PrefixMap6(), count: 129)
        inUse = []
        count = 0
    }

    /// The masks of the high and low halves for a prefix length.
    static func masks(_ length: Int) -> (UInt64, UInt64) {
        let high: UInt64 = length == 0 ? 0 : (length >= 64 ? .max : .max << UInt64(64 - length))
        let low: UInt64 = length <= 64 ? 0 : (length == 128 ? .max : .max << UInt64(128 - length))
        return (high, low)
    }

    /// The value of the longest prefix containing the address, or nil. No allocation.
    public func lookup(high: UInt64, low: UInt64) -> UInt32? {
        for entry in inUse {
            if let v = tables[entry.length][high & entry.high, low & entry.low] { return v }
        }
        return nil
    }

    /// Adds `high:low/length` with `value`, or replaces the value of a present prefix. Host
    /// bits are ignored. Returns `.full` (and changes nothing) if the prefix is new and
    /// `count >= capacity`.
    public mutating func insert(high: UInt64, low: UInt64, length: UInt8, value: UInt32) -> LPMInsertResult {
        precondition(length <= 128, "IPv6 prefix length \(length) > 128")
        precondition(value < 0x8000_0000, "IPv6LPM values must be < 2^31, got \(value)")
        let len = Int(length)
        let (mh, ml) = Self.masks(len)
        if count >= capacity, tables[len][high & mh, low & ml] == nil { return .full }
        let old = tables[len].updateValue(value, high: high & mh, low: low & ml)
        if let old { return .replaced(old: old) }
        count += 1
        if tables[len].count == 1 {
            let at = inUse.firstIndex { $0.length < len } ?? inUse.endIndex
            inUse.insert((len, mh, ml), at: at)
        }
        return .inserted
    }

    /// Removes `high:low/length` (host bits ignored) and returns its value, or nil if absent.
    @discardableResult
    public mutating func remove(high: UInt64, low: UInt64, length: UInt8) -> UInt32? {
        precondition(length <= 128, "IPv6 prefix length \(length) > 128")
        let len = Int(length)
        let (mh, ml) = Self.masks(len)
        guard let old = tables[len].removeValue(high: high & mh, low: low & ml) else { return nil }
        count -= 1
        if tables[len].count == 0 {
            inUse.removeAll { $0.length == len }
            tables[len] = PrefixMap6()
        }
        return old
    }

    /// The value of exactly `high:low/length` (host bits ignored), or nil.
    public func value(high: UInt64, low: UInt64, length: UInt8) -> UInt32? {
        precondition(length <= 128, "IPv6 prefix length \(length) > 128")
        let (mh, ml) = Self.masks(Int(length))
        return tables[Int(length)][high & mh, low & ml]
    }

    /// Calls `body(high, low, length, value)` for every prefix, longest lengths first.
    public func forEach(_ body: (UInt64, UInt64, UInt8, UInt32) -> Void) {
        for entry in inUse {
            tables[entry.length].forEach { body($0, $1, UInt8(entry.length), $2) }
        }
    }

    /// Bytes held by the hash tables.
    public var memoryBytes: Int {
        tables.reduce(0) { $0 + $1.bytes } + inUse.capacity * 24
    }
}

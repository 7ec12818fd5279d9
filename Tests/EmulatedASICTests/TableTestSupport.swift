func mask4(_ len: Int) -> UInt32 { len == 0 ? 0 : UInt32.max << UInt32(32 - len) }

/// Brute-force IPv4 longest-prefix match: a list of prefixes, scanned for each lookup.
struct ReferenceLPM4 {
    struct Entry { var prefix: UInt32; var length: Int; var value: UInt32 }
    var entries: [Entry] = []

    func index(_ p: UInt32, _ len: Int) -> Int? {
        entries.firstIndex { $0.prefix == p && $0.length == len }
    }
    func value(_ p: UInt32, _ len: Int) -> UInt32? { index(p & mask4(len), len).map { entries[$0].value } }

    mutating func insert(_ p: UInt32, _ len: Int, _ v: UInt32) -> UInt32? {
        let p = p & mask4(len)
        if let i = index(p, len) {
            defer { entries[i].value = v }
            return entries[i].value
        }
        entries.append(Entry(prefix: p, length: len, value: v))
        return nil
    }
    mutating func remove(_ p: UInt32, _ len: Int) -> UInt32? {
        guard let i = index(p & mask4(len), len) else { return nil }
        return entries.remove(at: i).value
    }
    func lookup(_ a: UInt32) -> UInt32? {
        var best = -1
        var value: UInt32?
        for e in entries where e.length > best && a & mask4(e.length) == e.prefix {
            best = e.length
            value = e.value
        }
        return value
    }
}

/// Brute-force IPv6 longest-prefix match on (high, low) halves.
struct ReferenceLPM6 {
    struct Entry { var high: UInt64; var low: UInt64; var length: Int; var value: UInt32 }
    var entries: [Entry] = []

    static func masked(_ h: UInt64, _ l: UInt64, _ len: Int) -> (UInt64, UInt64) {
        let mh: UInt64 = len == 0 ? 0 : (len >= 64 ? .max : .max << UInt64(64 - len))
        let ml: UInt64 = len <= 64 ? 0 : (len == 128 ? .max : .max << UInt64(128 - len))
        return (h & mh, l & ml)
    }
    func index(_ h: UInt64, _ l: UInt64, _ len: Int) -> Int? {
        let (h, l) = Self.masked(h, l, len)
        return entries.firstIndex { $0.high == h && $0.low == l && $0.length == len }
    }
    mutating func insert(_ h: UInt64, _ l: UInt64, _ len: Int, _ v: UInt32) -> UInt32? {
        if let i = index(h, l, len) {
            defer { entries[i].value = v }
            return entries[i].value
        }
        let (mh, ml) = Self.masked(h, l, len)
        entries.append(Entry(high: mh, low: ml, length: len, value: v))
        return nil
    }
    mutating func remove(_ h: UInt64, _ l: UInt64, _ len: Int) -> UInt32? {
        guard let i = index(h, l, len) else { return nil }
        return entries.remove(at: i).value
    }
    func lookup(_ h: UInt64, _ l: UInt64) -> UInt32? {
        var best = -1
        var value: UInt32?
        for e in entries where e.length > best {
            let (mh, ml) = Self.masked(h, l, e.length)
            if mh == e.high && ml == e.low {
                best = e.length
                value = e.value
            }
        }
        return value
    }
}

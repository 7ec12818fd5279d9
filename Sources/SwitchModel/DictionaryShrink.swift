extension Dictionary {
    /// After removals: rebuilds the storage when at most an eighth of a large capacity is in
    /// use, so the memory of a mass withdrawal (a million routes gone) is freed — Swift
    /// dictionaries keep their capacity otherwise. Amortized O(1) per removal.
    public mutating func shrinkIfSparse() {
        guard capacity > 1024, count < capacity / 8 else { return }
        var smaller = Dictionary(minimumCapacity: count * 2)
        for (key, value) in self { smaller[key] = value }
        self = smaller
    }
}

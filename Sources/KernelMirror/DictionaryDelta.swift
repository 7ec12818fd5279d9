import SwitchModel

extension Dictionary where Value: Equatable & Sendable {
    /// Inserts or replaces `value`, appending the resulting change (none when equal).
    mutating func upsert(_ key: Key, _ value: Value, _ wrap: (Change<Value>) -> MirrorDelta, into deltas: inout [MirrorDelta]) {
        if let old = updateValue(value, forKey: key) {
            if old != value { deltas.append(wrap(.changed(old: old, new: value))) }
        } else {
            deltas.append(wrap(.added(value)))
        }
    }

    /// Removes the value at `key`, appending a removal when there was one.
    mutating func remove(_ key: Key, _ wrap: (Change<Value>) -> MirrorDelta, into deltas: inout [MirrorDelta]) {
        if let old = removeValue(forKey: key) { deltas.append(wrap(.removed(old))) }
    }

    /// Appends the changes that turn `self` into `new`.
    func diff(to new: Self, _ wrap: (Change<Value>) -> MirrorDelta, into deltas: inout [MirrorDelta]) {
        for (key, old) in self {
            if let now = new[key] {
                if now != old { deltas.append(wrap(.changed(old: old, new: now))) }
            } else {
                deltas.append(wrap(.removed(old)))
            }
        }
        for (key, now) in new where self[key] == nil { deltas.append(wrap(.added(now))) }
    }
}

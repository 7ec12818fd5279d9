import SwitchDriver

/// Collects the desired-state changes of one `StagePipeline.apply` batch.
///
/// Stages report every change as a transition of one key from the object they wanted
/// before to the object they want now (nil = nothing). The sink keeps one change per key,
/// at the position of its last transition, and drops net no-ops: a key that ends the batch
/// as it began it (set back to the same object, or set and removed again when it was absent
/// before the batch) yields nothing, so a `.remove` is only ever emitted for a key that was
/// set in an earlier batch.
struct ChangeSink {
    private struct Transition {
        var key: HardwareKey
        /// What the key held before the batch.
        var before: DesiredObject?
        /// What it holds now.
        var after: DesiredObject?
    }

    private var transitions: [Transition?] = []
    private var position: [HardwareKey: Int] = [:]

    /// A sink sized for a batch of `expected` changes (a restart's million routes grow no
    /// table step by step).
    init(expected: Int = 0) {
        transitions.reserveCapacity(expected)
        position.reserveCapacity(expected)
    }

    /// Records that `key` went from `old` to `new`.
    mutating func change(_ key: HardwareKey, from old: DesiredObject?, to new: DesiredObject?) {
        guard old != new else { return }
        var transition = Transition(key: key, before: old, after: new)
        if let i = position.updateValue(transitions.count, forKey: key), let earlier = transitions[i] {
            transitions[i] = nil
            transition.before = earlier.before
        }
        transitions.append(transition)
    }

    /// The batch's net changes, in the order of each key's last transition.
    var changes: [DesiredChange] {
        transitions.compactMap { t in
            guard let t, t.before != t.after else { return nil }
            return t.after.map(DesiredChange.set) ?? .remove(t.key)
        }
    }
}

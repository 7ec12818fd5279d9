import Stages
import SwitchDriver
import SwitchModel

extension OffloadEngine {
    /// The offload state of the desired object `key`, or nil when no stage wants it
    /// (`OffloadSnapshot.state(of:)` over the live entries).
    public func state(of key: HardwareKey) -> OffloadState? { view.state(of: key) }

    /// What the state of the desired object `key` rests on (`OffloadSnapshot.evidence(of:)`).
    public func evidence(of key: HardwareKey) -> OffloadEvidence? { view.evidence(of: key) }

    /// The engine's states as they are now, for a reader on another thread: O(1) to take
    /// (the entries are shared until the engine next changes one, which then copies them).
    public func snapshot() -> OffloadSnapshot { view }

    /// How many keys the engine holds (desired, or still in hardware).
    public var objectCount: Int { entries.count }

    /// The live entries as a snapshot (no copy while nothing writes).
    var view: OffloadSnapshot {
        OffloadSnapshot(entries: entries, unavailable: unavailable, driverName: driverName, programsHardware: programsHardware)
    }

    /// The object a stage wants under `key`, if any.
    public func desiredObject(_ key: HardwareKey) -> HardwareObject? { entries[key]?.desired?.object }

    /// The object the engine believes the hardware holds under `key` (after `reconcile`,
    /// the read-back), if any.
    public func heldInHardware(_ key: HardwareKey) -> HardwareObject? { entries[key]?.programmed }

    /// The object a stage wants the hardware to hold under `key`: nil when there is none, or
    /// when it is a CPU-only record (`programmable: false`) the hardware never holds.
    public func wantedInHardware(_ key: HardwareKey) -> HardwareObject? {
        guard let d = entries[key]?.desired, d.programmable else { return nil }
        return d.object
    }

    /// Everything the stages want, as they submitted it (the audit compares it with a
    /// fresh evaluation of the kernel mirror).
    public func desiredObjects() -> [HardwareKey: DesiredObject] {
        var out: [HardwareKey: DesiredObject] = [:]
        out.reserveCapacity(entries.count)
        for (key, e) in entries { if let d = e.desired { out[key] = d } }
        return out
    }

    /// True when the hardware holds for `key` what the engine means it to: the desired
    /// object, its trap stand-in, or nothing for an object that is not desired or stays on
    /// the CPU — after `repair(_:)` and `run()`, whether the drift is gone.
    public func isSettled(_ key: HardwareKey) -> Bool {
        guard let e = entries[key] else { return true }
        switch e.status {
        case .programmed: return e.programmed == e.desired?.object
        case .blocked(_, let fallback): return fallback ? e.programmed != nil : e.programmed == nil
        case .cpuOnly: return e.programmed == nil
        case .pending, .failed: return e.desired == nil && e.programmed == nil
        }
    }

    /// Every desired object and its state, in key order of rank (for `hoist show`).
    public func states() -> [(key: HardwareKey, object: HardwareObject, state: OffloadState)] { view.states() }

    /// Counts of desired objects per state name (`offloaded`, `trapped`, …).
    public func stateSummary() -> [String: Int] { view.stateSummary() }

    /// Entries the engine holds in each table, against the driver's capacity.
    public func occupancy() -> [TableKind: TableOccupancy] {
        var used: [TableKind: Int] = [:]
        for (key, e) in entries {
            if let t = key.table, let object = e.programmed { used[t, default: 0] += object.tableEntries }
        }
        var out: [TableKind: TableOccupancy] = [:]
        for t in TableKind.allCases {
            out[t] = TableOccupancy(used: used[t] ?? 0, capacity: driver.capabilities.capacity(t))
        }
        return out
    }
}

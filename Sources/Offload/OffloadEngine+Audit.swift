import Stages
import SwitchDriver
import SwitchModel

/// A difference between what the engine programmed and what the driver holds.
public enum Drift: Hashable, Sendable, CustomStringConvertible {
    /// Programmed by the engine, absent from hardware.
    case missing(HardwareObject)
    /// In hardware, never programmed by the engine (or removed by it).
    case unexpected(HardwareObject)
    /// In both, with different contents.
    case changed(expected: HardwareObject, actual: HardwareObject)

    public var key: HardwareKey {
        switch self {
        case .missing(let o), .unexpected(let o): o.key
        case .changed(let e, _): e.key
        }
    }

    /// `missing`, `unexpected` or `changed`.
    public var kind: String {
        switch self {
        case .missing: "missing"
        case .unexpected: "unexpected"
        case .changed: "changed"
        }
    }

    public var description: String {
        switch self {
        case .missing(let o): "missing in hardware: \(o)"
        case .unexpected(let o): "unexpected in hardware: \(o)"
        case .changed(let e, let a): "changed in hardware: expected \(e), found \(a)"
        }
    }
}

extension OffloadEngine {
    /// Compares the driver's read-back with what the engine programmed and returns every
    /// difference. Nothing is changed; `repair(_:)` fixes what `audit()` found.
    public func audit() -> [Drift] { audit(against: driver.readBack()) }

    /// `audit()` against a read-back the caller already has.
    public func audit(against held: [HardwareObject]) -> [Drift] {
        var hardware = Self.snapshot(held)
        var drift: [Drift] = []
        for (key, e) in entries {
            guard let programmed = e.programmed else { continue }
            if let d = Self.compare(programmed: programmed, actual: hardware.removeValue(forKey: key)) { drift.append(d) }
        }
        for (_, object) in hardware { drift.append(.unexpected(object)) }
        return drift.sorted { ($0.key.rank, $0.description) < ($1.key.rank, $1.description) }
    }

    /// Compares one programmed/held pair; nil when they agree.
    static func compare(programmed: HardwareObject?, actual: HardwareObject?) -> Drift? {
        switch (programmed, actual) {
        case (nil, nil): nil
        case (let p?, nil): .missing(p)
        case (nil, let a?): .unexpected(a)
        case (let p?, let a?): p == a ? nil : .changed(expected: p, actual: a)
        }
    }

    // MARK: Audit in slices

    /// Starts a sliced audit pass (`auditSlice`) on the driver's read-back, taken now.
    /// Returns the number of keys to visit. A pass already under way is dropped.
    @discardableResult
    public func beginAudit() -> Int {
        markAudit()
        return loadAudit(Self.snapshot(driver.readBack()))
    }

    /// Starts a pass whose snapshot is read elsewhere (another connection to the hardware,
    /// on another thread): from now on the engine notes every key it changes, and
    /// `loadAudit` skips them — the snapshot may be older than what the engine knows.
    /// A pass already under way is dropped.
    public func markAudit() {
        auditPass = AuditPass()
    }

    /// The hardware snapshot for `loadAudit`, by key (pure: may run on another thread).
    public static func snapshot(_ held: [HardwareObject]) -> [HardwareKey: HardwareObject] {
        var hardware: [HardwareKey: HardwareObject] = [:]
        hardware.reserveCapacity(held.count)
        for object in held { hardware[object.key] = object }
        return hardware
    }

    /// Gives the pass begun by `markAudit` its snapshot, read after the mark; the keys to
    /// visit are the snapshot's and those the engine programmed. Returns their number.
    @discardableResult
    public func loadAudit(_ hardware: [HardwareKey: HardwareObject]) -> Int {
        var pass = auditPass ?? AuditPass()
        pass.hardware = hardware
        pass.keys = Array(hardware.keys)
        for (key, e) in entries where e.programmed != nil && hardware[key] == nil { pass.keys.append(key) }
        pass.loaded = true
        auditPass = pass.keys.isEmpty ? nil : pass
        return pass.keys.count
    }

    /// Drops the pass under way (its snapshot could not be read).
    public func cancelAudit() {
        auditPass = nil
    }

    /// True while a pass has keys left to visit (or waits for its snapshot).
    public var auditInProgress: Bool { auditPass != nil }

    /// Keys the pass under way has yet to visit.
    public var auditRemaining: Int { auditPass.map { $0.keys.count - $0.next } ?? 0 }

    /// Visits up to `budget` keys of the pass under way and returns their drift. Keys the
    /// engine changed since the pass began are skipped (the snapshot is older than what the
    /// engine knows; the next pass sees them). The pass ends when every key was visited.
    public func auditSlice(budget: Int) -> [Drift] {
        guard var pass = auditPass, pass.loaded else { return [] }
        auditPass = nil   // `store` below must not record into the pass being read
        var drift: [Drift] = []
        let end = min(pass.next + budget, pass.keys.count)
        while pass.next < end {
            let key = pass.keys[pass.next]
            pass.next += 1
            if pass.touched.contains(key) { continue }
            if let d = Self.compare(programmed: entries[key]?.programmed, actual: pass.hardware[key]) { drift.append(d) }
        }
        if pass.next < pass.keys.count { auditPass = pass }
        return drift
    }

    /// Takes the hardware's word for the drifted objects and schedules the next `run()` to
    /// put back what the stages want (and remove what they do not).
    public func repair(_ drift: [Drift]) {
        for d in drift {
            switch d {
            case .missing(let o):
                adopt(key: o.key, actual: nil)
            case .unexpected(let o):
                adopt(key: o.key, actual: o)
            case .changed(_, let actual):
                adopt(key: actual.key, actual: actual)
            }
        }
    }

    /// Starts from what the hardware already holds (a restarted daemon and a chip that
    /// kept forwarding): the read-back becomes the programmed state, so the next `run()`
    /// changes only what differs from the desired state — no flush.
    /// Objects are adopted in rank order (what they depend on first). An object already
    /// desired and held exactly, whose dependencies are held too, is settled: `run()` does
    /// not visit it again (a restart whose stages ran first visits only what differs).
    public func reconcile(with hardware: [HardwareObject]) {
        entries.reserveCapacity(max(entries.count, hardware.count))   // mostly the same keys
        var byRank: [[Int32]] = Array(repeating: [], count: HardwareKey.rankCount)
        for (i, object) in hardware.enumerated() { byRank[object.key.rank].append(Int32(i)) }
        for rank in byRank {
            for i in rank { adopt(key: hardware[Int(i)].key, actual: hardware[Int(i)], settling: true) }
        }
    }

    // MARK: Adopting a read-back as the stages submit

    /// Starts adopting what the hardware holds (`snapshot` of a restart's read-back) while
    /// the stages submit: an object the stages want is adopted as they say so (`submit`)
    /// — held exactly as wanted, with what it depends on in hardware, it is settled and
    /// `run()` does not visit it. `finishAdopting()` adopts the rest (to be removed).
    /// Like `reconcile(with:)` on an engine whose stages ran first, in one pass.
    public func beginAdopting(_ hardware: [HardwareKey: HardwareObject]) {
        adopting = hardware
        adoptedCount = 0
        entries.reserveCapacity(max(entries.count, hardware.count))
        dirty.reserveCapacity(hardware.count / 64)
    }

    /// Adopts what the stages did not ask for, in rank order; returns how many objects the
    /// hardware held.
    @discardableResult
    public func finishAdopting() -> Int {
        guard let rest = adopting else { return 0 }
        adopting = nil
        var byRank: [[HardwareObject]] = Array(repeating: [], count: HardwareKey.rankCount)
        for (key, object) in rest { byRank[key.rank].append(object) }
        for rank in byRank { for object in rank { adopt(key: object.key, actual: object, settling: true) } }
        return adoptedCount + rest.count
    }

    /// `submit`'s adoption of `actual`, held for `key`, which the stages now want as `d`.
    func adopt(_ key: HardwareKey, _ actual: HardwareObject, as d: DesiredObject) {
        adoptedCount += 1
        var old: HardwareObject?
        entries.update(key) { slot in
            var e = slot ?? Entry()
            old = e.programmed
            e.desired = d
            e.programmed = actual
            e.status = actual == d.object ? .programmed : .pending
            slot = e
        }
        noteStored(key)
        if let old { unlinkUsers(of: key, old) }
        linkUsers(of: key, actual)
        if actual != d.object || !d.programmable || d.object.dependencies.contains(where: { !isInHardware($0) }) {
            dirty.insert(key)
        }
    }

    private func adopt(key: HardwareKey, actual: HardwareObject?, settling: Bool = false) {
        var old: HardwareObject?
        // nil: the entry is gone; otherwise what it wants when it is in hardware as wanted.
        var outcome: DesiredObject??
        entries.update(key) { slot in
            var e = slot ?? Entry()
            old = e.programmed
            e.programmed = actual
            if e.desired == nil, actual == nil {
                slot = nil
                return
            }
            let held = actual != nil && actual == e.desired?.object
            e.status = held ? .programmed : .pending
            outcome = held ? e.desired : .some(nil)
            slot = e
        }
        noteStored(key)
        if let old { unlinkUsers(of: key, old) }
        if let actual { linkUsers(of: key, actual) }
        guard let outcome else { return }
        guard let d = outcome else {
            dirty.insert(key)
            return
        }
        if settling, d.programmable, !d.object.dependencies.contains(where: { !isInHardware($0) }) {
            // What `run()` would conclude for it: in hardware as desired, nothing to do.
            dirty.remove(key)
        }
    }
}

extension OffloadEngine {
    /// The hardware's own word on an object it had accepted (`DriverEvent.objectState`):
    /// a failure makes the object `failed(reason)`; any other report after a failure makes
    /// it programmed again. The report is the object's evidence (`evidence(of:)`): a trap
    /// makes it `trapped(reason)`, an awaited verdict `pending`, an unconfirmed acceptance
    /// `offloaded` with `confirmed` false. The engine does not retry on its own: such
    /// hardware reports again when its verdict changes (a kernel switchdev driver re-flags
    /// the route). Reports about objects the engine did not program are ignored.
    public func hardwareReported(_ key: HardwareKey, _ report: HardwareReport) {
        guard var e = entries[key], e.programmed != nil, e.desired != nil else { return }
        switch e.status {
        case .programmed, .failed: break
        default: return  // a trap stand-in or a removal in flight: not the object's verdict
        }
        if case .failed(.ok, _) = report { return }
        e.report = report
        if case .failed(let result, _) = report {
            e.status = .failed(result)
            store(key, e)
        } else if case .failed = e.status {
            e.status = .programmed
            store(key, e)
            wakeWaiters(of: key)
        } else {
            store(key, e)
        }
    }
}

/// A sliced audit pass: the hardware snapshot, the keys to visit, how far it got, and the
/// keys the engine changed since the snapshot (skipped).
struct AuditPass {
    var hardware: [HardwareKey: HardwareObject] = [:]
    var keys: [HardwareKey] = []
    var next = 0
    var touched: Set<HardwareKey> = []
    /// False until `loadAudit` gave it its snapshot.
    var loaded = false
}

import SwitchDriver
import SwitchModel

/// The engine's entries at one moment, read-only: every desired object's offload state,
/// evidence and object, as `hoist show` reports them. The engine answers its own
/// `state(of:)` through a snapshot of its live entries; `OffloadEngine.snapshot()` hands
/// one to a query running on another thread, which then sees one consistent moment however
/// long it takes, while the loop goes on (the dictionary is shared until the engine writes,
/// then copied once).
public struct OffloadSnapshot: Sendable {
    let entries: ShardedDictionary<HardwareKey, OffloadEngine.Entry>
    /// Why the hardware cannot be reached at that moment, if it could not.
    let unavailable: String?
    let driverName: String
    let programsHardware: Bool

    /// How many objects the stages want (desired), and how many keys the engine holds.
    public var count: Int { entries.count }

    /// Calls `body` with every key the engine holds, in no particular order — desired
    /// objects and, briefly, removals in flight (`desiredObject` is nil for those).
    public func forEachKey(_ body: (HardwareKey) -> Void) { entries.forEachKey(body) }

    /// The object a stage wants under `key`, if any.
    public func desiredObject(_ key: HardwareKey) -> HardwareObject? { entries[key]?.desired?.object }

    /// The offload state of the desired object `key`, or nil when no stage wants it.
    ///
    /// States are derived on demand, so a neighbour that resolves changes the state of a
    /// million routes behind it without touching them.
    public func state(of key: HardwareKey) -> OffloadState? {
        guard let e = entries[key], let d = e.desired else { return nil }
        if let unavailable { return .pending(reason: unavailable) }
        switch e.status {
        case .pending:
            return .pending(reason: "waiting to be programmed")
        case .cpuOnly:
            return .trapped(reason: d.trapReason ?? "not offloadable")
        case .failed(let result):
            if case .notSupported = result { return .trapped(reason: result.description) }
            return .failed(reason: result.description)
        case .blocked(let blocker, let fallback):
            let reason = "\(key) → " + blockerChain(blocker, depth: 0)
            return fallback ? .trapped(reason: reason) : .pending(reason: reason)
        case .programmed:
            if let trapReason = d.trapReason { return .trapped(reason: trapReason) }
            if case .trapped(let reason, _)? = e.report { return .trapped(reason: reason) }
            if let why = cpuDependency(of: d.object, depth: 0) { return .trapped(reason: "\(key) → " + why) }
            if case .awaiting(let why)? = e.report { return .pending(reason: why) }
            return .offloaded
        }
    }

    /// What the state of the desired object `key` rests on, for objects the driver holds
    /// (programmed, or failed by the hardware's own report); nil otherwise. A driver that
    /// programs the hardware confirms by holding the object; an observer's objects are
    /// confirmed only by the hardware's report (`DriverEvent.objectState`: the kernel's
    /// flags), and an accepted object nothing reports on is `offloaded` unconfirmed.
    public func evidence(of key: HardwareKey) -> OffloadEvidence? {
        guard let e = entries[key], e.desired != nil, e.programmed != nil else { return nil }
        switch e.status {
        case .programmed:
            if let r = e.report { return OffloadEvidence(confirmed: r.isConfirmed, detail: r.evidence) }
            if programsHardware { return OffloadEvidence(confirmed: true, detail: "programmed by the \(driverName) driver") }
            return OffloadEvidence(confirmed: false, detail: "accepted by the \(driverName) driver; no report from the hardware yet")
        case .failed:
            guard let r = e.report else { return nil }
            return OffloadEvidence(confirmed: r.isConfirmed, detail: r.evidence)
        default:
            return nil
        }
    }

    /// Every desired object and its state, in key order of rank (for `hoist show`).
    public func states() -> [(key: HardwareKey, object: HardwareObject, state: OffloadState)] {
        var out: [(HardwareKey, HardwareObject, OffloadState)] = []
        out.reserveCapacity(entries.count)
        for (key, e) in entries {
            guard let d = e.desired, let s = state(of: key) else { continue }
            out.append((key, d.object, s))
        }
        return out.sorted { ($0.0.rank, $0.0.description) < ($1.0.rank, $1.0.description) }
    }

    /// Counts of desired objects per state name (`offloaded`, `trapped`, …).
    public func stateSummary() -> [String: Int] {
        var out: [String: Int] = [:]
        for (key, _) in entries {
            if let s = state(of: key) { out[s.name, default: 0] += 1 }
        }
        return out
    }

    func isInHardware(_ key: HardwareKey) -> Bool { entries[key]?.isInHardware ?? false }

    /// Why an object in hardware still sends traffic to the CPU, through its soft
    /// dependencies: a nexthop without its neighbour, a group with a member that lacks one
    /// (all its traffic, or the flows hashed to that member), a route through either.
    func cpuDependency(of object: HardwareObject, depth: Int) -> String? {
        guard depth < 4 else { return nil }
        switch object {
        case .port(let p) where p.ingressACL:
            // The chip classifies the port's ingress with its ACL, or sends it all up.
            let acl = HardwareKey.acl(p.port)
            return isInHardware(acl) ? nil : "\(acl) is not in the chip: every frame arriving goes to the CPU"
        case .nexthop(let nh):
            let neighbor = HardwareKey.neighbor(nh.rif, nh.gateway)
            return isInHardware(neighbor) ? nil : "\(neighbor) unresolved"
        case .nexthopGroup(let g):
            // The chip hashes each flow to one member; a member without its neighbour
            // traps the flows hashed to it (the kernel resolves it and forwards them), so
            // the group — and every route through it — is trapped while any member is.
            let unresolved = g.members.compactMap { m in
                cpuDependency(of: .nexthop(m.nexthop), depth: depth + 1).map { "nexthop \(m.nexthop.gateway) → " + $0 }
            }
            guard !unresolved.isEmpty else { return nil }
            if unresolved.count == g.members.count {
                return unresolved.count == 1 ? unresolved[0] : "all \(unresolved.count) members unresolved"
            }
            let which = unresolved.count == 1 ? unresolved[0]
                : "\(unresolved.count) of \(g.members.count) members unresolved (" + unresolved.joined(separator: "; ") + ")"
            return which + (unresolved.count == 1 ? ": flows hashed to it go to the CPU" : ": flows hashed to them go to the CPU")
        case .route(let r):
            switch r.action {
            case .nexthop(let nh):
                return cpuDependency(of: .nexthop(nh), depth: depth + 1).map { "\(HardwareKey.nexthop(nh)) → " + $0 }
            case .group(let id):
                guard let g = entries[.nexthopGroup(id)]?.programmed else { return nil }
                return cpuDependency(of: g, depth: depth + 1).map { "\(id) → " + $0 }
            default:
                return nil
            }
        default:
            return nil
        }
    }

    /// Names the blocker and, when it is itself blocked or failed, its own blocker.
    func blockerChain(_ blocker: HardwareKey, depth: Int) -> String {
        guard depth < 6, let e = entries[blocker], e.desired != nil else {
            if case .neighbor = blocker { return "\(blocker) unresolved" }
            return "\(blocker) missing"
        }
        switch e.status {
        case .blocked(let next, _): return "\(blocker) → " + blockerChain(next, depth: depth + 1)
        case .failed(let r): return "\(blocker): \(r)"
        case .cpuOnly: return "\(blocker): \(e.desired?.trapReason ?? "not offloadable")"
        case .pending: return "\(blocker) pending"
        case .programmed:
            if let d = e.desired, let why = cpuDependency(of: d.object, depth: depth + 1) { return "\(blocker) → " + why }
            return "\(blocker) pending"
        }
    }
}

import Stages
import SwitchDriver
import SwitchModel

/// The offload engine: keeps what the stages want (desired) and what the driver holds
/// (programmed), and closes the gap in dependency order.
///
/// ```
///  Stages ──[DesiredChange]──► submit ──► entries[key] {desired, programmed, status}
///                                            │ dirty keys
///                                   run() ───┤ 1. sets, by rank (bridge … route), in
///                                            │    bounded batches; an item whose
///                                            │    dependency is not in hardware is
///                                            │    parked on it (routes get a trap
///                                            │    fallback so nothing misroutes)
///                                            │ 2. removals, by falling rank; the
///                                            │    programmed users of a removed object
///                                            │    are demoted first; sets refused as
///                                            │    invalid are tried again after them
///                                            │ 3. items that found a table full retry
///                                            ▼    when entries of that table are freed
///                               SwitchDriver.apply([DriverOperation]) → [DriverResult]
/// ```
///
/// Every desired object has one `OffloadState` (`state(of:)`); the reason of a blocked
/// object names the chain: "route 10.9.0.0/16 → nexthop 10.0.0.7 → neighbor 10.0.0.7
/// unresolved".
///
/// The engine is not thread-safe; the daemon drives it from one task.
public final class OffloadEngine {
    public struct Configuration: Sendable {
        /// The most operations handed to the driver in one `apply`.
        public var batchSize: Int
        public init(batchSize: Int = 4096) {
            self.batchSize = batchSize
        }
    }

    /// What one `run()` did.
    public struct Progress: Hashable, Sendable {
        public var programmed = 0
        public var removed = 0
        public var parked = 0
        public var failed = 0
        public var batches = 0
        public init() {}
    }

    enum Status: Hashable, Sendable {
        /// Not attempted yet.
        case pending
        /// In hardware as desired.
        case programmed
        /// Waiting for `blocker`; `fallback` when a trap route stands in meanwhile.
        /// (Boxed, as `failed`: the common states stay one word wide in a million entries.)
        indirect case blocked(by: HardwareKey, fallback: Bool)
        /// The driver refused it.
        indirect case failed(DriverResult)
        /// The stage decided the chip cannot hold it.
        case cpuOnly
    }

    /// One key's record. Kept small — a million of them at full table: what the hardware
    /// holds is usually exactly the desired object, so it is stored as `.desired`, not a
    /// second copy; the rare other values are boxed.
    struct Entry: Sendable {
        var desired: DesiredObject? {
            // What was programmed as the old desired object stays that object.
            willSet {
                if case .desired = held, let old = desired?.object, newValue?.object != old { held = .other(old) }
            }
            // A held copy equal to the new desired object is stored once (a restart's
            // read-back adopted before the stages said what they want).
            didSet {
                if case .other(let object) = held, object == desired?.object { held = .desired }
            }
        }
        /// What the driver holds.
        private var held: Held = .none
        var status: Status = .pending
        private var reportBox: ReportBox?

        indirect enum Held: Sendable {
            case none
            /// The desired object itself.
            case desired
            /// Something else: a trap stand-in, an older version, what a restart read back.
            case other(HardwareObject)
        }

        final class ReportBox: Sendable {
            let report: HardwareReport
            init(_ report: HardwareReport) { self.report = report }
        }

        init() {}

        /// What the driver holds for the key.
        var programmed: HardwareObject? {
            get {
                switch held {
                case .none: nil
                case .desired: desired?.object
                case .other(let object): object
                }
            }
            set {
                guard let newValue else { held = .none; return }
                held = newValue == desired?.object ? .desired : .other(newValue)
            }
        }

        /// The hardware's own word on the programmed object (`DriverEvent.objectState`),
        /// cleared whenever the object is applied again.
        var report: HardwareReport? {
            get { reportBox?.report }
            set { reportBox = newValue.map(ReportBox.init) }
        }

        /// In hardware as itself (not as a trap stand-in).
        var isInHardware: Bool {
            if case .none = held { return false }
            if case .blocked(_, true) = status { return false }
            return true
        }
    }

    public let driver: any SwitchDriver
    public let configuration: Configuration
    var entries = ShardedDictionary<HardwareKey, Entry>()
    var dirty: Set<HardwareKey> = []
    /// blocker → the keys parked on it.
    var waiters: [HardwareKey: Set<HardwareKey>] = [:]
    /// A programmed object → the programmed objects that depend on it.
    var users: [HardwareKey: Set<HardwareKey>] = [:]
    /// Table → keys that found it full, oldest first.
    var waitingForSpace: [TableKind: [HardwareKey]] = [:]
    /// Keys whose entry changed since `takeChangedKeys()` last ran (for `hoist watch`).
    var changed: Set<HardwareKey> = []
    /// Whether changes are noted for `takeChangedKeys()`. A daemon nobody watches turns it
    /// off: a million-route restart or withdrawal then fills no million-key set.
    public var tracksChanges = true {
        didSet { if !tracksChanges { changed = [] } }
    }
    /// This run programmed a route while routes of its table are failed for space.
    var routesProgrammedBesideFailures = false
    /// A restart's read-back not adopted yet (`beginAdopting`), and how many of it were.
    var adopting: [HardwareKey: HardwareObject]?
    var adoptedCount = 0
    /// The sliced audit pass under way (`beginAudit`), if any.
    var auditPass: AuditPass?
    /// Why the hardware cannot be reached, while it cannot (`hardwareLost`).
    var unavailable: String?

    /// The driver's name and kind, for the evidence of states (`OffloadSnapshot`).
    let driverName: String
    let programsHardware: Bool

    public init(driver: any SwitchDriver, configuration: Configuration = Configuration()) {
        self.driver = driver
        self.configuration = configuration
        driverName = driver.capabilities.name
        programsHardware = driver.capabilities.programsHardware
    }

    /// Makes room for `objects` entries (a restart knows its size from the read-back
    /// before the stages say what they want).
    public func reserveCapacity(_ objects: Int) {
        entries.reserveCapacity(objects)
        dirty.reserveCapacity(objects)
    }

    /// Records what the stages want now. Nothing is programmed until `run()`.
    public func submit(_ changes: [DesiredChange]) {
        if changes.count >= 1 << 12 {
            // A full table at once (a start, a BGP session's first dump): no step-by-step growth.
            entries.reserveCapacity(entries.count + changes.count)
            dirty.reserveCapacity(dirty.count + changes.count)
        }
        for change in changes {
            let key = change.key
            switch change {
            case .set(let d):
                if adopting != nil, let actual = adopting!.removeValue(forKey: key) {
                    adopt(key, actual, as: d)
                    continue
                }
                let changed = entries.update(key) { e in
                    if e == nil { e = Entry() }
                    if e!.desired == d { return false }
                    e!.desired = d
                    return true
                }
                guard changed else { continue }
                noteStored(key)
            case .remove:
                guard var e = entries[key] else { continue }
                e.desired = nil
                if e.programmed == nil {
                    forget(key)
                    continue
                }
                store(key, e)
            }
            dirty.insert(key)
        }
    }

    /// The keys whose desired or programmed state changed since the last call; their
    /// `state(of:)` (nil when gone) is what `hoist watch` reports. Derived changes (routes
    /// behind a neighbour that resolved) show up as the neighbour's change.
    /// With `dependents`, also every object whose state derives from a changed one (a
    /// route over a nexthop whose neighbour resolved: `state(of:)` follows its
    /// dependencies), transitively — what `hoist watch` must show as changed too. Routes
    /// are found by one scan of the entries when a nexthop, group or router interface is
    /// among the changed (only asked for while someone watches).
    public func takeChangedKeys(dependents: Bool = false) -> Set<HardwareKey> {
        defer { changed.removeAll(keepingCapacity: changed.capacity <= 1 << 16) }
        guard dependents, !entries.isEmpty else { return changed }
        var out = changed
        var frontier = Array(changed)
        while let key = frontier.popLast() {
            // A nexthop's state follows its neighbour (`cpuDependency`) without depending on it.
            if case .neighbor(let rif, let address) = key {
                let nexthop = HardwareKey.nexthop(HardwareNexthop(rif: rif, gateway: address))
                if entries[nexthop] != nil, out.insert(nexthop).inserted { frontier.append(nexthop) }
            }
            // A port's state follows its ingress ACL the same way.
            if case .acl(let p) = key, entries[.port(p)] != nil, out.insert(.port(p)).inserted { frontier.append(.port(p)) }
            for user in users[key] ?? [] where out.insert(user).inserted { frontier.append(user) }
        }
        // Routes are not in `users` (see `linkUsers`): one scan finds those over what changed.
        for (route, _) in routeUsers(of: out) { out.insert(route) }
        return out
    }

    /// True when there is work for `run()`.
    public var hasWork: Bool { !dirty.isEmpty }

    /// The keys `run()` will look at next: desired and programmed differ, or not tried yet.
    public var pendingKeys: Set<HardwareKey> { dirty }

    /// Programs until nothing more can be done now: every dirty item is programmed,
    /// removed, parked on a blocker, or failed.
    @discardableResult
    public func run() -> Progress {
        var progress = Progress()
        var rounds = 0
        while !dirty.isEmpty, rounds < 64 {
            rounds += 1
            let keys = dirty
            dirty.removeAll(keepingCapacity: dirty.capacity <= 1 << 16)
            var sets: [HardwareKey] = []
            var removals: [HardwareKey] = []
            for key in keys {
                guard let e = entries[key] else { continue }
                if e.desired != nil { sets.append(key) } else if e.programmed != nil { removals.append(key) }
            }
            programSets(sets, &progress)
            let removedBefore = progress.removed
            removeFromHardware(removals, &progress)
            if progress.removed > removedBefore {
                // A driver may refuse a change until objects that go in the same round are
                // gone (the emulated chip refuses a bridge's vlan_filtering change while the
                // bridge has VLAN members, as the kernel's 1 → 0 brings both): the sets it
                // refused as invalid are tried once more, after the removals.
                for key in sets {
                    if case .failed(.invalid)? = entries[key]?.status { dirty.insert(key) }
                }
            }
        }
        if routesProgrammedBesideFailures {
            routesProgrammedBesideFailures = false
            retrapCovers(&progress)
        }
        return progress
    }

    /// A route was programmed while others of its table are failed: a new (or changed)
    /// route may cover one of them and catch its traffic. Each failed route's covering
    /// routes are trapped again — at most 32 (IPv4) or 128 (IPv6) lookups per failed route,
    /// and only in runs that programmed routes beside failures.
    private func retrapCovers(_ progress: inout Progress) {
        for table in [TableKind.lpmIPv4, .lpmIPv6] {
            for key in waitingForSpace[table] ?? [] {
                guard case .failed(.tableFull)? = entries[key]?.status, case .route(let vrf, let prefix) = key else { continue }
                trapCovering(vrf: vrf, prefix, for: key, &progress)
            }
        }
    }

    /// True when `key` is a route that does not fit (failed, table full): the routes
    /// covering it must trap for it.
    private func isFailedForSpace(_ key: HardwareKey) -> Bool {
        guard case .route = key, case .failed(.tableFull)? = entries[key]?.status else { return false }
        return true
    }

    // MARK: - Sets

    private func programSets(_ keys: [HardwareKey], _ progress: inout Progress) {
        var byRank: [[HardwareKey]] = Array(repeating: [], count: HardwareKey.rankCount)
        for key in keys { byRank[key.rank].append(key) }
        for rank in byRank.indices where !byRank[rank].isEmpty {
            var ops: [DriverOperation] = []
            var opKeys: [(key: HardwareKey, object: HardwareObject, fallback: Bool)] = []
            ops.reserveCapacity(min(byRank[rank].count, configuration.batchSize))
            func flush() {
                guard !ops.isEmpty else { return }
                let results = driver.apply(ops)
                precondition(results.count == ops.count, "driver returned \(results.count) results for \(ops.count) operations")
                progress.batches += 1
                for (i, result) in results.enumerated() {
                    record(opKeys[i].key, object: opKeys[i].object, fallback: opKeys[i].fallback, result: result, &progress)
                }
                ops.removeAll(keepingCapacity: true)
                opKeys.removeAll(keepingCapacity: true)
            }
            for key in byRank[rank] {
                guard var e = entries[key], let d = e.desired else { continue }
                unpark(key)
                if !d.programmable {
                    e.status = .cpuOnly
                    store(key, e)
                    if e.programmed != nil { removeFromHardware([key], &progress) }
                    continue
                }
                if case .blocked(let narrower, fallback: true) = e.status, isFailedForSpace(narrower), let fb = fallback(for: d.object) {
                    // It covers a route that does not fit: it keeps trapping for it, whatever
                    // else changed about it.
                    park(key, on: narrower)
                    if e.programmed != fb {
                        ops.append(.set(fb))
                        opKeys.append((key, fb, true))
                    }
                } else if let blocker = d.object.dependencies.first(where: { !isInHardware($0) }) {
                    park(key, on: blocker)
                    progress.parked += 1
                    let fb = fallback(for: d.object)
                    e.status = .blocked(by: blocker, fallback: fb != nil && e.programmed == fb)
                    store(key, e)
                    if let fb, e.programmed != fb {
                        ops.append(.set(fb))
                        opKeys.append((key, fb, true))
                    } else if fb == nil, e.programmed != nil {
                        removeFromHardware([key], &progress)
                    }
                } else {
                    if e.programmed == d.object {
                        // Already in hardware (unchanged, or adopted from a read-back).
                        if e.status != .programmed {
                            e.status = .programmed
                            store(key, e)
                            wakeWaiters(of: key)
                        }
                        continue
                    }
                    ops.append(.set(d.object))
                    opKeys.append((key, d.object, false))
                }
                if ops.count >= configuration.batchSize { flush() }
            }
            flush()
        }
    }

    /// Programmed routes whose action uses one of `keys` (a nexthop, group or router
    /// interface), with the key they use: one pass over the entries, only when such an
    /// object goes.
    func routeUsers(of keys: Set<HardwareKey>) -> [(HardwareKey, HardwareKey)] {
        guard keys.contains(where: { if case .nexthop = $0 { true } else if case .nexthopGroup = $0 { true } else if case .routerInterface = $0 { true } else { false } }) else {
            return []
        }
        var out: [(HardwareKey, HardwareKey)] = []
        for (key, e) in entries {
            guard let p = e.programmed, case .route = p else { continue }
            for dep in p.dependencies where keys.contains(dep) {
                out.append((key, dep))
                break
            }
        }
        return out
    }

    /// A stand-in programmed while the real object waits: routes trap to the CPU, so a
    /// less specific route never catches their traffic.
    func fallback(for object: HardwareObject) -> HardwareObject? {
        guard case .route(var r) = object, !r.action.isTrapOrDrop else { return nil }
        r.action = .trap(.unresolvedNexthop)
        return .route(r)
    }

    private func record(_ key: HardwareKey, object: HardwareObject, fallback: Bool, result: DriverResult, _ progress: inout Progress) {
        guard var e = entries[key] else { return }
        switch result {
        case .ok:
            if let old = e.programmed { unlinkUsers(of: key, old) }
            e.programmed = object
            e.report = nil
            linkUsers(of: key, object)
            if fallback {
                if case .blocked(let blocker, _) = e.status { e.status = .blocked(by: blocker, fallback: true) }
                store(key, e)
            } else {
                e.status = .programmed
                store(key, e)
                progress.programmed += 1
                wakeWaiters(of: key)
                if let table = key.table, case .route = key, waitingForSpace[table]?.isEmpty == false {
                    routesProgrammedBesideFailures = true
                }
            }
        case .dependencyMissing(let blocker):
            park(key, on: blocker)
            e.status = .blocked(by: blocker, fallback: false)
            store(key, e)
            // The driver lacks what we believed programmed: drift; reprogram it.
            if var b = entries[blocker], b.desired != nil, b.programmed != nil {
                b.programmed = nil
                b.status = .pending
                store(blocker, b)
                dirty.insert(blocker)
            }
            progress.parked += 1
        case .tableFull(let table, _, _):
            e.status = .failed(result)
            store(key, e)
            waitingForSpace[table, default: []].append(key)
            progress.failed += 1
            if case .route(let vrf, let prefix) = key { trapCovering(vrf: vrf, prefix, for: key, &progress) }
        case .notSupported, .invalid, .hardwareFailure:
            e.status = .failed(result)
            store(key, e)
            progress.failed += 1
        }
    }

    /// A route that is not in hardware must not be caught by a less specific one that
    /// is: programmed routes covering `prefix` are switched to trap (an in-place change,
    /// no new entry) until the route is programmed or withdrawn — rocker's FIB abort,
    /// narrowed to the covering routes.
    private func trapCovering(vrf: UInt32, _ prefix: IPPrefix, for key: HardwareKey, _ progress: inout Progress) {
        var demotions: [DriverOperation] = []
        var covers: [(HardwareKey, HardwareObject)] = []
        var length = Int(prefix.length) - 1
        while length >= 0 {
            let cover = HardwareKey.route(vrf: vrf, prefix.covering(UInt8(length)))
            if let p = entries[cover]?.programmed, let fb = fallback(for: p), p != fb {
                demotions.append(.set(fb))
                covers.append((cover, fb))
            }
            length -= 1
        }
        guard !demotions.isEmpty else { return }
        let results = driver.apply(demotions)
        progress.batches += 1
        for ((cover, fb), result) in zip(covers, results) where result == .ok {
            guard var e = entries[cover], let old = e.programmed else { continue }
            unlinkUsers(of: cover, old)
            e.programmed = fb
            e.status = .blocked(by: key, fallback: true)
            store(cover, e)
            park(cover, on: key)
        }
    }

    // MARK: - Removals

    /// Removes `keys` from hardware, falling rank first. Programmed users of a removed
    /// object go first: routes are demoted to their trap fallback, anything else is
    /// removed and re-evaluated (it parks on what went away).
    private func removeFromHardware(_ keys: [HardwareKey], _ progress: inout Progress) {
        var closure: Set<HardwareKey> = []
        var demotions: [(key: HardwareKey, fallback: HardwareObject, blocker: HardwareKey)] = []
        var stack = keys
        while let key = stack.popLast() {
            guard closure.insert(key).inserted else { continue }
            for user in users[key] ?? [] {
                guard entries[user]?.programmed != nil else { continue }
                stack.append(user)
            }
        }
        // Routes standing on anything that goes are demoted to their trap stand-in.
        for (route, blocker) in routeUsers(of: closure) {
            if let p = entries[route]?.programmed, let fb = fallback(for: p) { demotions.append((route, fb, blocker)) }
        }
        for chunk in demotions.chunked(configuration.batchSize) {
            let results = driver.apply(chunk.map { .set($0.fallback) })
            progress.batches += 1
            for (d, result) in zip(chunk, results) {
                guard var e = entries[d.key], let old = e.programmed else { continue }
                unlinkUsers(of: d.key, old)
                if result == .ok {
                    e.programmed = d.fallback
                    e.status = .blocked(by: d.blocker, fallback: true)
                } else {
                    e.status = .failed(result)
                }
                store(d.key, e)
                park(d.key, on: d.blocker)
            }
        }
        let ordered = closure.filter { entries[$0]?.programmed != nil }.sorted { $0.rank > $1.rank }
        for chunk in ordered.chunked(configuration.batchSize) {
            let results = driver.apply(chunk.map { .remove($0) })
            progress.batches += 1
            for (key, result) in zip(chunk, results) {
                guard var e = entries[key], let old = e.programmed else { continue }
                guard result == .ok else {
                    e.status = .failed(result)
                    store(key, e)
                    progress.failed += 1
                    continue
                }
                unlinkUsers(of: key, old)
                e.programmed = nil
                progress.removed += 1
                if let table = key.table { wakeSpaceWaiters(table, count: old.tableEntries) }
                if e.desired == nil {
                    forget(key)
                    continue
                }
                if e.status == .programmed {
                    // A demoted user: re-evaluate; it parks on what went away.
                    e.status = .pending
                    dirty.insert(key)
                }
                store(key, e)
            }
        }
    }

    // MARK: - Bookkeeping

    /// Writes an entry back (nil forgets it) and notes the key for `takeChangedKeys()`.
    func store(_ key: HardwareKey, _ entry: Entry?) {
        entries[key] = entry
        noteStored(key)
    }

    /// Notes a key whose entry was written (`store`, or changed in place).
    func noteStored(_ key: HardwareKey) {
        if tracksChanges { changed.insert(key) }
        auditPass?.touched.insert(key)
    }

    /// True when the object is in hardware in a form its dependents can use (not a
    /// trap stand-in).
    func isInHardware(_ key: HardwareKey) -> Bool { entries[key]?.isInHardware ?? false }

    private func park(_ key: HardwareKey, on blocker: HardwareKey) {
        waiters[blocker, default: []].insert(key)
    }

    private func unpark(_ key: HardwareKey) {
        guard case .blocked(let blocker, _)? = entries[key]?.status else { return }
        waiters[blocker]?.remove(key)
        if waiters[blocker]?.isEmpty == true { waiters[blocker] = nil }
    }

    func wakeWaiters(of key: HardwareKey) {
        guard let parked = waiters.removeValue(forKey: key) else { return }
        dirty.formUnion(parked)
    }

    private func wakeSpaceWaiters(_ table: TableKind, count: Int) {
        guard var queue = waitingForSpace[table], !queue.isEmpty else { return }
        var woken = 0
        while woken < count, !queue.isEmpty {
            let key = queue.removeFirst()
            if case .failed(.tableFull)? = entries[key]?.status {
                dirty.insert(key)
                woken += 1
            }
        }
        waitingForSpace[table] = queue.isEmpty ? nil : queue
    }

    /// Records `key` as a user of what `object` depends on. Routes are not recorded: a
    /// million routes behind one nexthop would make this index the engine's biggest cost;
    /// removals that can affect routes scan for them instead (`routeUsers(of:)`).
    func linkUsers(of key: HardwareKey, _ object: HardwareObject) {
        if case .route = key { return }
        for dep in object.dependencies { users[dep, default: []].insert(key) }
    }

    func unlinkUsers(of key: HardwareKey, _ object: HardwareObject) {
        if case .route = key { return }
        for dep in object.dependencies {
            users[dep]?.remove(key)
            if users[dep]?.isEmpty == true { users[dep] = nil }
        }
    }

    private func forget(_ key: HardwareKey) {
        unpark(key)
        store(key, nil)
        // Whatever waited on it (a covering route trapping for it) re-evaluates.
        wakeWaiters(of: key)
    }
}

extension RouteAction {
    var isTrapOrDrop: Bool {
        switch self {
        case .trap, .drop: true
        default: false
        }
    }
}

extension Array {
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}

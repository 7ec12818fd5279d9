import Dispatch
import Glibc
import KernelMirror
import Offload
import Stages
import SwitchDriver
import SwitchModel

/// The audit: kernel ↔ hoistd ↔ chip.
///
/// - **Continuously** (`auditStep`, once per loop iteration), the chip side: a pass takes
///   one read-back of the hardware and compares it with what the engine programmed, at
///   most `sliceBudget` keys per iteration, so offload never waits for more than one slice;
///   with an `auditReader` (hoistd over the chip link: a second connection) the read-back
///   itself runs on another thread, keys the engine changes meanwhile being skipped.
///   What differs is repaired through the engine (`repair`, then `run`) and counted; a
///   pass that found drift logs one summary line. A pass starts every `interval` seconds,
///   or every 20 read-back times when that is longer: the read-back is the one step that
///   is not sliced (0.35 s for 100k routes over the chip link in a debug build).
/// - **On demand** (`auditNow`, `hoist audit`), all three sides in one go: the chip (a full
///   `audit()`), the kernel (the mirror against a fresh dump of the same tables) and the
///   stages (what the engine was asked for against a fresh evaluation of the mirror).
///   The kernel and stage sides cost a full dump and a full evaluation (seconds for a
///   million routes), which is why they are not part of the continuous audit.
extension SwitchDaemon {
    /// How the continuous audit is paced.
    public struct AuditSettings: Sendable, Equatable {
        /// Seconds from the start of one pass to the start of the next (the first starts
        /// one interval after the loop's first step); 0, the default, turns it off
        /// (hoistd turns it on: `--audit-interval`).
        public var interval: Double = 0
        /// Keys compared per loop iteration.
        public var sliceBudget = 4096
        public init() {}
    }

    /// What the audits found (continuous and on demand).
    public struct AuditStatistics: Sendable, Equatable {
        /// Continuous passes completed.
        public var passes = 0
        /// Keys compared by the continuous audit.
        public var checked = 0
        /// Objects that differed between the engine and the chip, found by the continuous
        /// audit, and those back as the engine means them after the repair.
        public var driftFound = 0
        public var driftRepaired = 0
        /// Drift the last completed pass found.
        public var lastPassDrift = 0
        /// On-demand audits (`hoist audit`) and the drift they reported.
        public var onDemand = 0
        public var onDemandDrift = 0
        /// Background read-backs that failed (the pass was dropped).
        public var readFailures = 0
        public init() {}
    }

    static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// One slice of the continuous chip audit; starts a pass when one is due.
    func auditStep() {
        guard auditSettings.interval > 0 else { return }
        let now = Self.monotonicNanoseconds()
        if let reading = auditReading {
            guard let result = reading.take() else { return }   // still reading
            auditReading = nil
            auditReadBackSeconds = Double(now - (auditPassStarted ?? now)) / 1e9
            guard let hardware = result else {
                auditStatistics.readFailures += 1
                engine.cancelAudit()
                return
            }
            engine.loadAudit(hardware)
            if !engine.auditInProgress { finishAuditPass() }
            return
        }
        if !engine.auditInProgress {
            guard let started = auditPassStarted else {
                auditPassStarted = now
                return
            }
            if Double(now - started) / 1e9 < max(auditSettings.interval, auditReadBackSeconds * 20) { return }
            auditPassStarted = now
            auditPassDrift = []
            if let reader = auditReader {
                engine.markAudit()
                auditReading = BackgroundReadBack(reader)
                return
            }
            engine.beginAudit()
            // Read in line: passes are spaced so the read-back takes at most 5 % of the
            // loop's time.
            auditReadBackSeconds = Double(Self.monotonicNanoseconds() - now) / 1e9
            if !engine.auditInProgress { finishAuditPass() }
            return
        }
        auditStatistics.checked += min(auditSettings.sliceBudget, engine.auditRemaining)
        let drift = engine.auditSlice(budget: auditSettings.sliceBudget)
        if !drift.isEmpty {
            auditStatistics.driftFound += drift.count
            auditPassDrift += drift
            engine.repair(drift)
            engine.run()
            auditStatistics.driftRepaired += drift.filter { engine.isSettled($0.key) }.count
        }
        if !engine.auditInProgress { finishAuditPass() }
    }

    private func finishAuditPass() {
        auditStatistics.passes += 1
        // The pass's snapshot (the whole read-back, by key: ~200 MB at a million routes) is
        // gone: its pages go back to the system rather than stay in the heap until the next.
        if engine.objectCount >= 1 << 16, let trim = Self.mallocTrim { _ = trim(0) }
        auditStatistics.lastPassDrift = auditPassDrift.count
        guard !auditPassDrift.isEmpty else { return }
        let kinds = Dictionary(grouping: auditPassDrift, by: \.kind).mapValues(\.count)
        let counts = ["missing", "unexpected", "changed"].compactMap { k in kinds[k].map { "\($0) \(k)" } }.joined(separator: ", ")
        let examples = auditPassDrift.prefix(3).map(\.description).joined(separator: "; ")
        onAuditDrift?("audit: \(auditPassDrift.count) objects differed from the chip (\(counts)), repaired: \(examples)"
                      + (auditPassDrift.count > 3 ? "; …" : ""))
        auditPassDrift = []
    }

    /// One difference an on-demand audit found.
    public struct AuditFinding: Sendable, Equatable {
        /// `chip` (engine vs hardware), `kernel` (mirror vs a fresh dump) or `stages`
        /// (engine's desired state vs a fresh evaluation of the mirror).
        public var side: String
        /// `missing`, `unexpected` or `changed`, seen from the side's reference.
        public var kind: String
        public var object: String
        public var expected: String?
        public var found: String?
    }

    /// What `auditNow` compared and found.
    public struct AuditReport: Sendable {
        public var chipObjects = 0
        public var kernelObjects = 0
        public var desiredObjects = 0
        public var findings: [AuditFinding] = []
        public var repaired = false
    }

    /// One full audit of all three sides; with `repair`, what differs is repaired: the chip
    /// through the engine, the mirror by a resync, the stages by replacing them with the
    /// fresh evaluation.
    public func auditNow(repair: Bool) throws -> AuditReport {
        var report = AuditReport()
        // Apply what the kernel announced so far, so the comparisons start current.
        if let d = try mirror.poll(timeoutMilliseconds: 0) { apply(d) }
        apply(mirror.flush())

        // Kernel: the mirror against a fresh dump. A change between the dump and the
        // events read after it shows as a difference once; only what differs in two
        // dumps in a row is reported.
        func kernelDiff() throws -> [MirrorDelta] {
            let fresh = try mirror.dumpTables()
            if let d = try mirror.poll(timeoutMilliseconds: 0) { apply(d) }
            apply(mirror.flush())
            var out: [MirrorDelta] = []
            Self.comparable(mirror.tables).diff(to: Self.comparable(fresh), into: &out)
            report.kernelObjects = fresh.objectCount
            return out
        }
        var kernel = try kernelDiff()
        if !kernel.isEmpty {
            let again = try kernelDiff()
            kernel = again.filter { kernel.contains($0) }
        }
        for delta in kernel { report.findings.append(Self.finding(delta)) }

        // Stages: the engine's desired state against a fresh evaluation of the mirror,
        // with the group ids the engine already uses.
        let have = engine.desiredObjects()
        var fresh = StagePipeline(capabilities: driver.capabilities)
        fresh.preferGroupIDs(from: have.values.compactMap { if case .nexthopGroup = $0.object { $0.object } else { nil } })
        var all: [MirrorDelta] = netfilter.map { [.netfilter(.added($0.state))] } ?? []
        MirrorTables().diff(to: mirror.tables, into: &all)
        var want: [HardwareKey: DesiredObject] = [:]
        for change in fresh.apply(all) {
            switch change {
            case .set(let d): want[d.key] = d
            case .remove(let k): want[k] = nil
            }
        }
        report.desiredObjects = want.count
        var stageChanges: [DesiredChange] = []
        for (key, d) in want where have[key] != d {
            report.findings.append(AuditFinding(side: "stages", kind: have[key] == nil ? "missing" : "changed", object: key.description,
                                                expected: d.description, found: have[key]?.description))
            stageChanges.append(.set(d))
        }
        for (key, d) in have where want[key] == nil {
            report.findings.append(AuditFinding(side: "stages", kind: "unexpected", object: key.description, expected: nil, found: d.description))
            stageChanges.append(.remove(key))
        }

        // Chip: everything the engine programmed against the read-back.
        let held = driver.readBack()
        let chip = engine.audit(against: held)
        report.chipObjects = held.count
        for d in chip {
            switch d {
            case .missing(let o):
                report.findings.append(AuditFinding(side: "chip", kind: "missing", object: o.key.description, expected: "\(o)", found: nil))
            case .unexpected(let o):
                report.findings.append(AuditFinding(side: "chip", kind: "unexpected", object: o.key.description, expected: nil, found: "\(o)"))
            case .changed(let e, let a):
                report.findings.append(AuditFinding(side: "chip", kind: "changed", object: e.key.description, expected: "\(e)", found: "\(a)"))
            }
        }
        auditStatistics.onDemand += 1
        auditStatistics.onDemandDrift += report.findings.count
        report.findings.sort { ($0.side, $0.object) < ($1.side, $1.object) }

        if repair, !report.findings.isEmpty {
            if !kernel.isEmpty {
                try mirror.resync()
                apply(mirror.flush())
            }
            if !stageChanges.isEmpty {
                stages = fresh
                engine.submit(stageChanges)
            }
            engine.repair(chip)
            engine.run()
            report.repaired = true
        }
        return report
    }

    /// The tables without what the kernel changes with no notification, so a dump has it
    /// and the mirror may not: link counters and VF lists; the multicast entries of a
    /// device's own address list, which the FDB dump reports as `self permanent` entries
    /// (`ndo_dflt_fdb_dump`); and neighbours the kernel makes implicitly in state NOARP
    /// (multicast and broadcast addresses: `__neigh_create` sends no `RTM_NEWNEIGH`); the
    /// unicast entries an upper device (a macvlan) puts in its lower device's address list
    /// with its own MAC (`dev_uc_add`, also unannounced: the FDB dump reports them as `self
    /// permanent`, the mirror never hears of them); the local addresses (a bridge's own MAC,
    /// its ports') that a master copies into an enslaved device's address list and takes out
    /// again, unannounced: a bridge into a port that is not promiscuous
    /// (`br_fdb_sync_static`, `br_fdb_unsync_static`), a bond into its slaves
    /// (`bond_set_rx_mode`: `dev_uc_sync`) — seen with a bond in a VLAN-filtering bridge;
    /// and a neighbour's moves between
    /// REACHABLE, STALE, DELAY and PROBE (`__neigh_event_send` and `neigh_timer_handler`
    /// make REACHABLE→DELAY, STALE→DELAY and DELAY→PROBE without `RTM_NEWNEIGH`: all four
    /// are compared as STALE — a resolved MAC — so the MAC is still audited); and the
    /// bridge and VXLAN attributes of a device that is down (a changelink on a down
    /// device sends no `RTM_NEWLINK`; the `NEWLINK` of its coming up carries them; a down
    /// bridge forwards nothing, its ports being disabled). None of the others is offloaded.
    static func comparable(_ tables: MirrorTables) -> MirrorTables {
        var t = tables
        for (index, var link) in t.links {
            link.statistics = nil
            link.vfs = nil
            // A down device's own attributes (`ip link set br0 type bridge vlan_filtering 1`
            // while br0 is down): `netdev_state_change` announces a changelink only for a
            // device that is up; bringing it up announces them all.
            if !link.adminUp {
                link.bridge = nil
                link.vxlan = nil
            }
            t.links[index] = link
        }
        t.fdb = t.fdb.filter { !($0.key.isSelf && $0.key.mac.isMulticast && $0.value.state == .permanent) }
        let uppers = t.links.values.filter { $0.kind == .macvlan }.compactMap { l in l.link.flatMap { lower in l.mac.map { (lower, $0) } } }
        t.fdb = t.fdb.filter { e in
            !(e.key.isSelf && e.value.state == .permanent && uppers.contains { $0.0 == e.key.port && $0.1 == e.key.mac })
        }
        let localMACs = Set(t.links.values.compactMap(\.mac))
        t.fdb = t.fdb.filter { e in
            !(e.key.isSelf && e.value.state == .permanent && t.links[e.key.port]?.master != nil && localMACs.contains(e.key.mac))
        }
        t.neighbors = t.neighbors.filter { !$0.value.state.contains(.noarp) }
        for (key, var n) in t.neighbors where [.reachable, .delay, .probe].contains(n.state) {
            n.state = .stale
            t.neighbors[key] = n
        }
        // The kernel attaches its default qdiscs (handle 0) when a link comes up, unannounced.
        t.qdiscs = t.qdiscs.filter { !$0.value.isDefault }
        return t
    }

    /// A kernel difference, from the kernel's point of view: `added` in the fresh dump is
    /// missing from the mirror, `removed` is unexpected in it.
    static func finding(_ delta: MirrorDelta) -> AuditFinding {
        func describe<V>(_ change: Change<V>) -> AuditFinding {
            switch change {
            case .added(let v):
                AuditFinding(side: "kernel", kind: "missing", object: "\(delta.table)", expected: "\(v)", found: nil)
            case .removed(let v):
                AuditFinding(side: "kernel", kind: "unexpected", object: "\(delta.table)", expected: nil, found: "\(v)")
            case .changed(let old, let new):
                AuditFinding(side: "kernel", kind: "changed", object: "\(delta.table)", expected: "\(new)", found: "\(old)")
            }
        }
        switch delta {
        case .link(let c): return describe(c)
        case .vlan(let c): return describe(c)
        case .fdb(let c): return describe(c)
        case .mdb(let c): return describe(c)
        case .address(let c): return describe(c)
        case .route(let c): return describe(c)
        case .nexthop(let c): return describe(c)
        case .neighbor(let c): return describe(c)
        case .netfilter(let c): return describe(c)
        case .netconf(let c): return describe(c)
        case .rule(let c): return describe(c)
        case .qdisc(let c): return describe(c)
        case .tcFilter(let c): return describe(c)
        }
    }
}

/// One read-back for the continuous audit, on a background thread.
final class BackgroundReadBack: @unchecked Sendable {
    private let lock = DispatchQueue(label: "hoist.audit.readback")
    private var result: [HardwareKey: HardwareObject]??

    init(_ read: @escaping @Sendable () -> [HardwareObject]?) {
        DispatchQueue.global().async { [self] in
            let snapshot = read().map(OffloadEngine.snapshot)
            lock.sync { result = .some(snapshot) }
        }
    }

    /// Nil while reading; then the snapshot, or `.some(nil)` when the read failed.
    func take() -> [HardwareKey: HardwareObject]?? { lock.sync { result } }
}

import Foundation
import Glibc
import KernelMirror
import Netlink
import Offload
import Stages
import SwitchDriver
import SwitchModel

/// The control loop of hoistd: the kernel mirror feeds the stages, the stages feed the
/// offload engine, the engine programs the driver; what the hardware learns and ages on
/// its own goes back into the kernel's FDB as `extern_learn`, so `bridge fdb show` agrees
/// with the chip.
///
/// ```
///  kernel ──RTNLGRP_*──► KernelMirror ──[MirrorDelta]──► StagePipeline ──[DesiredChange]──►
///     ▲                                                               OffloadEngine.run()
///     │ RTM_NEWNEIGH / RTM_DELNEIGH (extern_learn)                          │ apply
///     └──────────── handle(events) ◄── pollEvents ◄──────────────── SwitchDriver
/// ```
///
/// Lost chip events would leave the kernel's `extern_learn` entries wrong for good (a
/// learned MAC never written, an aged one never removed), so at `start()` — a hoistd
/// starting against a chip that already learned — and after the hardware reports
/// `eventsLost`, the daemon reads the chip's learned MACs back and makes the kernel's
/// entries equal to them (``reconcileLearnedMACs()``).
///
/// One thread drives it (`start`, then `step` in a loop); it chooses no concrete driver.
public final class SwitchDaemon {
    public struct Statistics: Sendable, Equatable {
        public var deltas = 0
        public var desiredChanges = 0
        public var events = 0
        /// FDB entries written to (or removed from) the kernel for the chip.
        public var fdbWrites = 0
        /// Write-backs the kernel refused, or for destinations it cannot hold yet.
        public var fdbWriteFailures = 0
        /// Events the hardware lost (its queue overflowed), as its `eventsLost` notices said.
        public var eventsLost = 0
        /// Reconciliations of the kernel's `extern_learn` entries with the chip's learned MACs,
        /// and what they changed in the kernel.
        public var learnedReconciliations = 0
        public var staleLearnedRemoved = 0
        public var missingLearnedAdded = 0
        /// Times the hardware was lost (`DriverHealth.lost`).
        public var hardwareLosses = 0
        public init() {}
    }

    public let mirror: KernelMirror
    public let engine: OffloadEngine
    public let driver: any SwitchDriver
    public internal(set) var statistics = Statistics()
    /// The continuous audit's pacing (`SwitchDaemon+Audit.swift`) and what it found.
    public var auditSettings = AuditSettings()
    public internal(set) var auditStatistics = AuditStatistics()
    /// Called with a summary line when an audit pass found drift, for logging.
    public var onAuditDrift: ((String) -> Void)?
    var auditPassStarted: UInt64?
    var auditPassDrift: [Drift] = []
    var auditReadBackSeconds = 0.0
    /// Reads the hardware for the continuous audit on another thread through a
    /// connection of its own (hoistd: a second chip-link connection), so the loop never
    /// waits for a read-back; nil when the read failed. Without it the loop reads in line.
    public var auditReader: (@Sendable () -> [HardwareObject]?)?
    var auditReading: BackgroundReadBack?
    /// Called with each write-back the kernel refused, for logging.
    public var onWriteBackFailure: ((String) -> Void)?
    /// Called after each batch of kernel changes is through the stages and the engine: how
    /// many deltas, and the nanoseconds from reading them to the driver having them
    /// (`hoist_offload_latency_seconds`).
    public var onBatchOffloaded: ((Int, UInt64) -> Void)?
    /// Called when the hardware reports lost events, with how many, before the
    /// reconciliation that follows; for logging.
    public var onEventsLost: ((Int) -> Void)?
    /// Called with each reconciliation of learned MACs after a loss, for logging.
    public var onLearnedReconciled: ((LearnedReconciliation) -> Void)?
    /// The MACs the hardware learned itself, by hardware key: kept from its learned, moved
    /// and aged events, and replaced by its read-back (``reconcileLearnedMACs()``).
    public internal(set) var learned: [HardwareKey: HardwareFDBEntry] = [:]
    /// The most objects the engine held since memory was last returned (`returnFreedMemory`).
    var peakObjects = 0
    /// `statistics.deltas` when memory was last returned, and when deltas last came.
    var deltasAtTrim = 0
    var lastDeltas: UInt64 = 0
    /// How often an event loop steps the daemon while nothing arrives (driver events,
    /// netfilter, the audit's slices), in milliseconds — while something happened in the
    /// last step. Each quiet step doubles the wait, up to `idlePollMilliseconds`: an idle
    /// switch asks its chip for events ~10 times a second, not 200 (a kernel change still
    /// wakes the loop at once: the mirror's socket is a descriptor of the loop).
    public var pollMilliseconds: Int32 = 5
    public var idlePollMilliseconds: Int32 = 100
    /// The wait the next step asks for, between the two.
    var currentPollMilliseconds: Int32 = 5
    /// Whether the driver reads its learned MACs back (then ``learned`` is complete).
    public internal(set) var readsLearnedMACs = false
    /// Called when the hardware is lost and when it is back, for logging.
    public var onHealthChange: ((String) -> Void)?

    var stages: StagePipeline
    let requests: NetlinkChannel
    /// The namespace's netfilter configuration: chains that see forwarded traffic keep it on the CPU.
    public let netfilter: NetfilterWatcher?
    let portNames: [PortID: String]
    var portIndexes: [PortID: IfIndex] = [:]
    /// While the hardware is lost: when to try reconnecting next, and the delay after that.
    var nextReconnect = ContinuousClock.now
    var reconnectDelay: Duration = .milliseconds(100)

    /// Mirrors the kernel of `namespace` (the caller's when nil) onto `driver`.
    public init(namespace: String? = nil, driver: any SwitchDriver,
                mirrorConfiguration: KernelMirror.Configuration = .init(),
                engineConfiguration: OffloadEngine.Configuration = .init()) throws {
        self.driver = driver
        mirror = try KernelMirror(namespace: namespace, configuration: mirrorConfiguration)
        // A kernel without nfnetlink has no netfilter chains to trap for.
        netfilter = try? NetfilterWatcher(namespace: namespace)
        requests = try NetlinkChannel(namespace: namespace)
        engine = OffloadEngine(driver: driver, configuration: engineConfiguration)
        stages = StagePipeline(capabilities: driver.capabilities)
        portNames = Dictionary(uniqueKeysWithValues: driver.capabilities.ports.map { ($0.id, $0.name) })
    }

    /// What `start()` found in the hardware and changed there.
    public struct StartSummary: Sendable, CustomStringConvertible {
        /// Objects the hardware held before anything was programmed.
        public var readBack = 0
        /// Operations the first programming pass applied: a restart over a chip that kept
        /// its tables applies none when the kernel did not change meanwhile.
        public var programmed = 0
        public var removed = 0
        /// What the hardware held differently from what the kernel wants: key, held, wanted.
        public var differing: [(key: HardwareKey, held: HardwareObject?, wanted: HardwareObject?)] = []
        /// How the kernel's `extern_learn` entries were made equal to the hardware's learned
        /// MACs (nil: the driver cannot read them back).
        public var learned: LearnedReconciliation?
        /// Seconds each part of the start took: the kernel's dump with the stages taking it
        /// as it is read (the hardware is read back meanwhile, and adopted as the stages
        /// submit), the stages' work left after it, adopting what they did not ask for, the
        /// engine.
        public var phases: [(name: String, seconds: Double)] = []
        public var description: String {
            "\(readBack) objects read back, \(programmed) programmed, \(removed) removed"
                + (learned.map { "; \($0)" } ?? "")
                + (phases.isEmpty ? "" : " (" + phases.map { "\($0.name) \(Self.seconds($0.seconds))" }.joined(separator: ", ") + ")")
        }

        static func seconds(_ s: Double) -> String {
            let tenths = Int((s * 10).rounded())
            return "\(tenths / 10).\(tenths % 10) s"
        }
    }

    /// Dumps the kernel and programs everything; the hardware's current contents are the
    /// starting point, so a restart changes only what differs (nothing is flushed).
    /// With `listingDifferences` false, `StartSummary.differing` stays empty (it visits
    /// every object a restart read back: worth it only for a debug log).
    @discardableResult
    public func start(listingDifferences: Bool = true) throws -> StartSummary {
        let summary = try programFromScratch(listingDifferences: listingDifferences)
        // The dump's messages and deltas, the read-back and the stages' changes are gone
        // now: at a full table that is hundreds of MB the heap would otherwise keep.
        if summary.readBack + summary.programmed >= 1 << 16, let trim = Self.mallocTrim { _ = trim(0) }
        deltasAtTrim = statistics.deltas
        return summary
    }

    /// How many mirror deltas the start hands the stages at a time.
    static let startBatch = 1 << 16

    private func programFromScratch(listingDifferences: Bool) throws -> StartSummary {
        var phases: [(name: String, seconds: Double)] = []
        var lap = Self.monotonicNanoseconds()
        func phase(_ name: String) {
            let now = Self.monotonicNanoseconds()
            phases.append((name, Double(now - lap) / 1e9))
            lap = now
        }
        // The hardware is read back on one thread while the kernel is dumped on this one;
        // a third takes the dump's batches through the stages as they are read, once the
        // read-back is there (its ECMP group ids come first: `preferGroupIDs`). Until the
        // worker is joined, it alone touches the stages and the engine, and nothing else
        // touches the driver.
        let reading = BackgroundValue(Unchecked(driver)) { Unchecked(OffloadEngine.snapshot($0.value.readBack())) }
        // Netfilter first, so nothing it must see is ever programmed to bypass it.
        let firewall = netfilter?.start().map { [MirrorDelta.netfilter($0)] } ?? []
        let pipe = BatchPipe<[MirrorDelta]>(limit: 4)
        let worker = BackgroundValue(Unchecked((daemon: self, reading: reading, pipe: pipe, firewall: firewall))) { input in
            let (daemon, reading, pipe, firewall) = input.value
            var held = reading.take().value
            daemon.stages.preferGroupIDs(from: held.values)
            daemon.stages.reserveCapacity(like: held.values)
            // The engine adopts the read-back as the stages say what they want (compared as
            // it arrives); it holds the only reference, so adoption changes it in place.
            daemon.engine.beginAdopting(held)
            held = [:]
            daemon.submit(firewall)
            while let batch = pipe.pop() { daemon.submit(batch) }
        }
        do {
            try mirror.start(chunkSize: Self.startBatch) { batch in
                if !batch.isEmpty { pipe.push(batch) }
            }
        } catch {
            pipe.close()
            worker.wait()
            throw error
        }
        phase("kernel dump and stages")
        pipe.close()
        worker.wait()
        phase("stages beyond it")
        // What the hardware holds that the stages did not ask for (to be removed).
        let readBack = engine.finishAdopting()
        phase("adopt the rest")
        // Only what differs is sorted by name (a restart over a million objects finds few);
        // what the hardware held is the engine's programmed state, taken from the read-back.
        let differing = !listingDifferences ? [] : engine.pendingKeys
            .map { (key: $0, held: engine.heldInHardware($0), wanted: engine.wantedInHardware($0)) }
            .filter { $0.held != $0.wanted }
            .sorted { ($0.key.rank, $0.key.description) < ($1.key.rank, $1.key.description) }
        let progress = engine.run()
        phase("engine")
        let learnedMACs = try reconcileLearnedMACs()
        return StartSummary(readBack: readBack, programmed: progress.programmed, removed: progress.removed,
                            differing: differing, learned: learnedMACs, phases: phases)
    }

    /// Waits up to `timeoutMilliseconds` for kernel changes, programs them, and writes
    /// back what the hardware learned or aged meanwhile. While the hardware is lost, the
    /// kernel is still mirrored and the changes wait; the daemon reconnects
    /// (`followHealth`) and then programs everything.
    public func step(timeoutMilliseconds: Int32) throws {
        let deltas = try mirror.poll(timeoutMilliseconds: timeoutMilliseconds)
        let read = deltas == nil ? nil : Self.monotonicNanoseconds()
        if let deltas { apply(deltas) }
        if let change = netfilter?.poll() { apply([.netfilter(change)]) }
        guard followHealth() else {
            currentPollMilliseconds = pollMilliseconds
            return
        }
        let worked = engine.hasWork
        if worked { engine.run() }
        if let read, let deltas, !deltas.isEmpty { onBatchOffloaded?(deltas.count, Self.monotonicNanoseconds() - read) }
        let events = driver.pollEvents(limit: 4096)
        if handle(events) {
            if let result = try reconcileLearnedMACs() { onLearnedReconciled?(result) }
        }
        _ = followHealth()
        auditStep()
        returnFreedMemory(quiet: deltas == nil)
        let busy = worked || deltas != nil || !events.isEmpty || engine.hasWork || auditReading != nil || engine.auditInProgress
        currentPollMilliseconds = busy ? pollMilliseconds : min(max(currentPollMilliseconds, 1) * 2, max(idlePollMilliseconds, pollMilliseconds))
    }

    /// What an event loop waits on for `step`: the kernel's notifications.
    public var descriptors: [pollfd] {
        mirror.descriptor.map { [pollfd(fd: $0, events: Int16(POLLIN), revents: 0)] } ?? []
    }

    /// The longest an event loop may wait before the next `step`: the mirror's batch or
    /// dump, and otherwise the poll interval (`pollMilliseconds`, longer while idle) — the
    /// driver's events (learned MACs, its health) are asked for, not signalled.
    public var maxWaitMilliseconds: Int32 { min(mirror.maxWaitMilliseconds ?? currentPollMilliseconds, currentPollMilliseconds) }

    /// After a mass withdrawal — the engine holds less than half its peak, which was at
    /// least 65,536 objects — or once a burst of at least 4,096 deltas (a BGP session's
    /// full table, or the tail of a withdrawal whose halvings were trimmed already: a
    /// million routes withdrawn end with ~60,000 deltas after the last halving) is
    /// programmed and the kernel was quiet for half a second, the heap pages freed go back
    /// to the system (`malloc_trim`; glibc would keep them for the process otherwise: the
    /// burst's batches, and the tables its growth outgrew).
    func returnFreedMemory(quiet: Bool) {
        let n = engine.objectCount
        peakObjects = max(peakObjects, n)
        let withdrawn = peakObjects >= 1 << 16 && n * 2 < peakObjects
        let now = Self.monotonicNanoseconds()
        if !quiet { lastDeltas = now }
        let burstDone = statistics.deltas - deltasAtTrim >= 1 << 12 && now - lastDeltas >= 500_000_000
            && !engine.hasWork && !mirror.hasPending && !mirror.dumpPending
        guard withdrawn || burstDone else { return }
        // glibc's malloc_trim (not in the Glibc module's headers): looked up once.
        if let trim = Self.mallocTrim { _ = trim(0) }
        peakObjects = n
        deltasAtTrim = statistics.deltas
    }

    static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()

    func apply(_ deltas: [MirrorDelta]) {
        guard !deltas.isEmpty else { return }
        submit(deltas)
        if engine.unavailableReason == nil { engine.run() }
    }

    private func submit(_ deltas: [MirrorDelta]) {
        statistics.deltas += deltas.count
        let changes = stages.apply(deltas)
        statistics.desiredChanges += changes.count
        engine.submit(changes)
    }

    /// Writes the hardware's own FDB changes to the kernel: learned and moved MACs as
    /// `extern_learn` entries on the port, aged ones deleted. Requests go in batches of 256
    /// per `send()` without waiting for ACKs (rtnetlink handles each send synchronously);
    /// the kernel's error replies are collected after each batch.
    /// - Returns: whether the hardware lost events, so a reconciliation must follow.
    @discardableResult
    func handle(_ events: [DriverEvent]) -> Bool {
        statistics.events += events.count
        var batch: [NetlinkMessageBuilder] = []
        var lost = false
        for event in events {
            switch event {
            case .macLearned(let bridge, let vid, let mac, let destination),
                 .macMoved(let bridge, let vid, let mac, _, let destination):
                noteLearned(HardwareFDBEntry(bridge: bridge, vid: vid, mac: mac, destination: destination, isStatic: false))
                batch += fdbRequests(add: true, vid: vid, mac: mac, destination: destination)
            case .macAged(let bridge, let vid, let mac, let destination):
                learned[.fdb(bridge, vid, mac)] = nil
                batch += fdbRequests(add: false, vid: vid, mac: mac, destination: destination)
            case .objectState(let key, let result):
                engine.hardwareReported(key, result)
            case .eventsLost(let count):
                statistics.eventsLost += count
                onEventsLost?(count)
                lost = true
            case .portOperState, .packetTrapped:
                break
            }
            if batch.count >= 256 { send(&batch) }
        }
        send(&batch)
        return lost
    }

    /// `add fdb 02:00:00:00:00:01 dev swp1 vlan 10 master br0`: a write-back request in
    /// `bridge fdb`'s words, device names from the mirror.
    func describeFDBRequest(_ request: NetlinkMessageBuilder) -> String {
        guard let message = request.decoded.first else { return "an entry" }
        let (verb, entry): (String, FDBEntry)
        switch message {
        case .newFDB(let e): (verb, entry) = ("add", e)
        case .delFDB(let e): (verb, entry) = ("del", e)
        default: return "\(message)"
        }
        let links = mirror.tables.links
        var text = "\(verb) fdb \(entry.key.mac) dev \(links[entry.key.port]?.name ?? "if\(entry.key.port.rawValue)")"
        if entry.key.vlan != .none { text += " vlan \(entry.key.vlan)" }
        if let remote = entry.key.remote { text += " dst \(remote)" }
        if let vni = entry.key.vni { text += " vni \(vni)" }
        text += entry.key.isSelf ? " self" : entry.master.flatMap { links[$0]?.name }.map { " master \($0)" } ?? " master"
        return text
    }

    /// Sends `batch` without waiting for ACKs and collects the kernel's errors; those with
    /// a code in `ignoring` (a delete of what is already gone) are not failures.
    func send(_ batch: inout [NetlinkMessageBuilder], ignoring: Set<Int32> = []) {
        guard !batch.isEmpty else { return }
        defer { batch.removeAll(keepingCapacity: true) }
        do {
            try requests.sendBatch(batch)
            let errors = try requests.drainErrors().filter { !ignoring.contains($0.code) }
            statistics.fdbWrites += batch.count - errors.count
            statistics.fdbWriteFailures += errors.count
            guard !errors.isEmpty else { return }
            // Each error names the entry its request was about, by the request's sequence number.
            let bySequence = Dictionary(batch.map { ($0.sequence, $0) }, uniquingKeysWith: { a, _ in a })
            for e in errors {
                let what = e.sequence.flatMap { bySequence[$0] }.map(describeFDBRequest) ?? "an entry"
                onWriteBackFailure?("fdb write-back of \(what): \(e)")
            }
        } catch {
            statistics.fdbWriteFailures += batch.count
            onWriteBackFailure?("fdb write-back of \(batch.count) entries (\(batch.prefix(3).map(describeFDBRequest).joined(separator: "; "))\(batch.count > 3 ? "; …" : "")): \(error)")
        }
    }

    /// The kernel requests for one learned or aged MAC: on the chip port's host interface,
    /// or — behind a tunnel — on the vxlan device of that VNI, with the remote VTEP. None
    /// for a MAC the control plane put behind a VTEP on that device (FRR's EVPN remote MAC):
    /// its entries are FRR's, the chip holds them as programmed, and the chip learning or
    /// ageing a copy does not change what the kernel should hold.
    func fdbRequests(add: Bool, vid: VLANID, mac: MACAddress, destination: FDBDestination) -> [NetlinkMessageBuilder] {
        switch destination {
        case .port(let port):
            if let link = kernelPort(port) {
                return add ? [KernelRequest.addExternLearnedFDB(port: link, mac: mac, vlan: vid)]
                                + vlanCopyDeletes(port: link, mac: mac, vid: vid)
                            : [KernelRequest.deleteFDB(port: link, mac: mac, vlan: vid)]
            }
        case .tunnel(let vni, let remote):
            if let device = mirror.tables.links.values.first(where: { $0.kind == .vxlan && $0.vxlan?.vni == vni }) {
                if stages.tunnelHoldsControlPlaneMAC(mac, on: device.index) { return [] }
                // Behind the device's default destinations: only the bridge learned it (a
                // `nolearning` device), so only the bridge's entry on the vxlan port is written.
                if remote == .anyIPv4 {
                    return [add ? KernelRequest.addExternLearnedFDB(port: device.index, mac: mac, vlan: vid)
                                : KernelRequest.deleteFDB(port: device.index, mac: mac, vlan: vid)]
                }
                return add ? KernelRequest.addExternLearnedVXLANFDB(device: device.index, mac: mac, remote: remote, vlan: vid)
                    : KernelRequest.deleteVXLANFDB(device: device.index, mac: mac, remote: remote, vlan: vid)
            }
        case .cpu:
            break
        }
        statistics.fdbWriteFailures += 1
        onWriteBackFailure?("no kernel interface for \(mac) on \(destination)")
        return []
    }

    /// The kernel names of the LAGs (their bonds), for rows that name ports.
    public var lagNames: [PortID: String] { stages.lagNames }

    /// The kernel interface of a chip port (its host interface, by name), or of a LAG (its bond).
    func kernelPort(_ port: PortID) -> IfIndex? {
        if port.isLAG { return stages.kernelLink(of: port) }
        if let cached = portIndexes[port], mirror.tables.links[cached]?.name == portNames[port] { return cached }
        guard let name = portNames[port], let link = mirror.tables.links.values.first(where: { $0.name == name }) else { return nil }
        portIndexes[port] = link.index
        return link.index
    }
}

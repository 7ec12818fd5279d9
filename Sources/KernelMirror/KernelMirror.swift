#if canImport(Glibc)
import Glibc
#endif
import Netlink
import SwitchModel

/// An always-current copy of the kernel's switching state, with the changes delivered as
/// typed deltas in bounded batches.
///
/// ```
///           requests channel (dumps)            events channel (RTNLGRP_* notifications)
///                    │                                        │
///   start ──► full dump ──► tables              receive ──► decode ──► apply ──► deltas
///                               ▲                   │ ENOBUFS                       │
///                               │                   ▼                               │
///                               │     discard what queued (reopen the events        │
///                               │     socket, groups joined first), then            │
///                               └──── resync: mark (snapshot), dump, sweep (diff);  │
///                                     apply only what arrives after the reopen      ▼
///                                                              batch (≤ N deltas or ≤ T ms) ──► deliver
/// ```
///
/// Notifications still queued when an overrun is reported are older than the resync dump,
/// and some of their successors were lost (an add whose delete was dropped): applied on top
/// of the dump they would bring back objects the kernel no longer has. So the events socket
/// is reopened — subscribed again before the old one closes — and only then dumped: what
/// changes during the dump arrives on the new socket and is applied after it, in order,
/// which converges because each object's last event reflects its latest state.
///
/// Routes and nexthops the kernel removes without a notification (a link going down or
/// away, an address removed, a nexthop object deleted) are caught by re-dumping those two
/// tables shortly after such an event and sweeping what is gone.
///
/// Not thread-safe: one thread runs ``run(until:deliver:)``; others read ``tables`` only
/// through what that thread hands them.
public final class KernelMirror {
    public struct Configuration: Sendable {
        /// Deliver a batch once it holds this many deltas…
        public var maxBatchSize = 1024
        /// …or once its oldest delta is this old…
        public var maxBatchDelayMilliseconds = 5
        /// …or as soon as the socket has nothing more queued (NAPI's habit: batch what has
        /// arrived, never wait for what has not). Under a burst the socket stays non-empty
        /// and batches fill to `maxBatchSize`; a lone change reaches the stages at once
        /// instead of after `maxBatchDelayMilliseconds`.
        public var flushWhenDrained = true
        /// Wait this long after a silent-deletion trigger before re-dumping routes, so a burst
        /// of link events costs one dump.
        public var redumpDelayMilliseconds = 20
        /// The events socket's receive buffer (`SO_RCVBUFFORCE`).
        public var receiveBufferBytes = 256 << 20
        /// How many times a dump the kernel marks interrupted is retried.
        public var dumpAttempts = 5
        /// After a resync or route re-dump that failed (every attempt interrupted, or a
        /// request error), wait this long before trying it again.
        public var failedDumpRetryMilliseconds = 1000
        public init() {}
    }

    /// Counters, for `hoist mirror --json` and the daemon's metrics.
    public struct Statistics: Sendable, Equatable {
        public var messages = 0
        public var deltas = 0
        public var batches = 0
        /// Receive errors on the events socket (`ENOBUFS` and others).
        public var overruns = 0
        /// Full resyncs (discard queued notifications, mark, dump, sweep).
        public var resyncs = 0
        /// Resyncs and route re-dumps that failed and were put off to be tried again
        /// (the mirror keeps what it has meanwhile, and keeps applying notifications).
        public var failedDumps = 0
        /// Route and nexthop re-dumps after a silent-deletion trigger.
        public var routeRedumps = 0
        /// Of those, the re-dumps of only the routes through links whose carrier or admin
        /// state changed.
        public var filteredRouteRedumps = 0
        /// Routes the last re-dump read from the kernel.
        public var lastRedumpRoutes = 0
        /// Malformed messages skipped, on either socket.
        public var malformed = 0
        public init() {}
    }

    public private(set) var tables = MirrorTables()
    public private(set) var statistics = Statistics()
    public let configuration: Configuration
    private let events: NetlinkChannel
    private let requests: NetlinkChannel
    private var pending: [MirrorDelta] = []
    private var pendingSince: UInt64 = 0
    private var redumpDue: UInt64?
    /// Called with each malformed message, for logging.
    public var onMalformed: ((NetlinkDecodeError) -> Void)? {
        didSet {
            events.onMalformed = onMalformed
            requests.onMalformed = onMalformed
        }
    }

    /// A mirror over two channels: `events` joined to the mirror's groups, `requests` for dumps.
    public init(events: NetlinkChannel, requests: NetlinkChannel, configuration: Configuration = .init()) {
        self.events = events
        self.requests = requests
        self.configuration = configuration
    }

    /// A mirror of the kernel state of a network namespace (nil: the caller's own).
    public convenience init(namespace: String? = nil, configuration: Configuration = .init()) throws {
        let events = try NetlinkChannel(namespace: namespace, groups: RouteNetlinkGroup.mirror,
                                        receiveBufferBytes: configuration.receiveBufferBytes)
        let requests = try NetlinkChannel(namespace: namespace, receiveBufferBytes: 4 << 20)
        self.init(events: events, requests: requests, configuration: configuration)
    }

    /// Loads the initial state. The events socket is already subscribed, so nothing that
    /// changes during the dump is lost: it is applied by the first ``poll(timeoutMilliseconds:)``.
    /// - Returns: the initial objects as `added` deltas.
    @discardableResult
    public func start() throws -> [MirrorDelta] {
        var deltas: [MirrorDelta] = []
        try start(chunkSize: .max) { deltas += $0 }
        return deltas
    }

    /// As `start()`, handing the deltas to `body` as they are made, in batches of about
    /// `chunkSize`: everything but the routes first, then the route dump as it is read —
    /// a million routes are never a million deltas at once. A route dump that a change
    /// interrupts (`NLM_F_DUMP_INTR`) is taken again, and what differs from what was
    /// already handed over follows as one more batch.
    public func start(chunkSize: Int, _ body: ([MirrorDelta]) -> Void) throws {
        guard tables.objectCount == 0 else {
            // Started before: the fresh dump is compared with what the mirror holds.
            let fresh = try dumpAll()
            var deltas: [MirrorDelta] = []
            tables.diff(to: fresh, into: &deltas)
            tables = fresh
            syncMalformed()
            body(deltas)
            return
        }
        var fresh = try dumpAll(routes: false)
        var deltas: [MirrorDelta] = []
        tables.diff(to: fresh, into: &deltas)
        body(deltas)
        deltas = []
        let withoutRoutes = fresh
        do {
            // Everything is new: the routes' deltas are those of applying their dump.
            try requests.dump(.routes) { message in
                _ = fresh.apply(message, into: &deltas)
                if deltas.count >= chunkSize {
                    body(deltas)
                    deltas.removeAll(keepingCapacity: true)
                }
            }
            if !deltas.isEmpty { body(deltas) }
        } catch let error as NetlinkError where error.code == EINTR {
            if !deltas.isEmpty { body(deltas) }
            var whole = withoutRoutes
            try dumpRetrying(into: &whole) { try requests.dump(.routes, emit: $0) }
            deltas = []
            fresh.diff(to: whole, into: &deltas)
            fresh = whole
            if !deltas.isEmpty { body(deltas) }
        }
        tables = fresh
        syncMalformed()
    }

    /// Receives and applies what arrives within `timeoutMilliseconds`, performing resyncs
    /// and re-dumps as needed, and returns a batch when one is ready (full or old enough).
    public func poll(timeoutMilliseconds: Int32) throws -> [MirrorDelta]? {
        let start = Self.now()
        var budget = timeoutMilliseconds
        while true {
            if let due = resyncDue, Self.now() >= due { resyncOrPutOff(after: lastResyncCause) }
            if let due = redumpDue, Self.now() >= due {
                do {
                    try redumpRoutes()
                } catch {
                    redumpDue = putOff(error)
                }
            }
            if pending.count >= configuration.maxBatchSize { return flush() }
            if !pending.isEmpty, Self.now() >= pendingSince + UInt64(configuration.maxBatchDelayMilliseconds) * 1_000_000 {
                return flush()
            }
            var wait = budget
            if !pending.isEmpty { wait = min(wait, configuration.flushWhenDrained ? 0 : Int32(configuration.maxBatchDelayMilliseconds)) }
            for due in [redumpDue, resyncDue].compactMap({ $0 }) {
                wait = min(wait, Int32(max(0, (Int64(due) - Int64(Self.now())) / 1_000_000)))
            }
            let received: Bool
            do {
                received = try events.receiveNotifications(timeoutMilliseconds: max(wait, 0)) { message in
                    self.ingest(message)
                }
            } catch let error as NetlinkError {
                statistics.overruns += 1
                resyncOrPutOff(after: error)
                continue
            }
            refreshVFs()
            refreshBonds()
            syncMalformed()
            if !received, !pending.isEmpty, configuration.flushWhenDrained { return flush() }
            if !received {
                let elapsed = Int32(clamping: (Self.now() - start) / 1_000_000)
                if elapsed >= timeoutMilliseconds {
                    if !pending.isEmpty, Self.now() >= pendingSince + UInt64(configuration.maxBatchDelayMilliseconds) * 1_000_000 {
                        return flush()
                    }
                    return nil
                }
                budget = timeoutMilliseconds - elapsed
            }
        }
    }

    /// Runs until `stop` returns true, handing each batch to `deliver`.
    public func run(until stop: () -> Bool, deliver: ([MirrorDelta]) throws -> Void) throws {
        while !stop() {
            if let batch = try poll(timeoutMilliseconds: 100) { try deliver(batch) }
        }
        if !pending.isEmpty { try deliver(flush()) }
    }

    /// Hands out what is pending now, full or not.
    public func flush() -> [MirrorDelta] {
        let out = pending
        pending.removeAll(keepingCapacity: true)
        if !out.isEmpty { statistics.batches += 1 }
        return out
    }

    /// The receive error behind the latest resync (nil for one asked for), for logging.
    public private(set) var lastResyncCause: NetlinkError?
    /// Why the latest put-off resync or re-dump failed, for logging.
    public private(set) var lastDumpFailure: (any Error)?
    /// When a resync that failed is tried again.
    private var resyncDue: UInt64?

    /// Whether a resync or re-dump that failed waits to be tried again: until it has run,
    /// the tables may lack what the failed dump would have brought.
    /// The notification socket's descriptor, for an event loop to wait on.
    public var descriptor: Int32? { events.transport.descriptor }

    /// How long the mirror may wait for notifications before `poll` must run again: a
    /// batch waiting to be handed out, or a dump due (nil: until a notification arrives).
    public var maxWaitMilliseconds: Int32? {
        var wait: Int32? = pending.isEmpty ? nil : Int32(configuration.maxBatchDelayMilliseconds)
        for due in [redumpDue, resyncDue].compactMap({ $0 }) {
            let ms = Int32(clamping: max(0, (Int64(due) - Int64(Self.now())) / 1_000_000))
            wait = min(wait ?? ms, ms)
        }
        return wait
    }

    public var dumpPending: Bool { resyncDue != nil || redumpDue != nil }

    /// True while deltas wait to be returned by `poll` (a batch not full or old enough yet).
    public var hasPending: Bool { !pending.isEmpty }

    /// A resync from `poll`: one that fails does not stop the mirror (hoistd keeps
    /// offloading what it knows); it is counted and tried again after
    /// `failedDumpRetryMilliseconds`, and notifications keep being applied meanwhile.
    private func resyncOrPutOff(after error: NetlinkError?) {
        do {
            try resync(after: error)
            resyncDue = nil
        } catch let failure {
            resyncDue = putOff(failure)
        }
    }

    /// Counts a failed resync or re-dump and says when to try it again.
    private func putOff(_ failure: any Error) -> UInt64 {
        statistics.failedDumps += 1
        lastDumpFailure = failure
        return Self.now() + UInt64(configuration.failedDumpRetryMilliseconds) * 1_000_000
    }

    /// Resynchronises from scratch: throw away the notifications queued in the events socket
    /// (``NetlinkTransport/discardQueued()``: a reopened socket, joined to the groups before
    /// the old one closes), snapshot the tables (mark), dump everything into fresh tables,
    /// diff (sweep); reading events then applies only what the kernel sent after the reopen.
    public func resync(after error: NetlinkError? = nil) throws {
        statistics.resyncs += 1
        lastResyncCause = error
        try events.transport.discardQueued()
        let fresh = try dumpAll()
        noteDeltas { tables.diff(to: fresh, into: &$0) }
        tables = fresh
        redumpDue = nil
        redumpScope = nil
        syncMalformed()
    }

    private func ingest(_ message: KernelMessage) {
        statistics.messages += 1
        var message = message
        if case .newLink(var link) = message, link.vfs == nil, let old = tables.links[link.index], old.vfs != nil {
            // Kept until the PF's VFs are asked for, after this receive (`refreshVFs`):
            // never a request from inside the receive callback.
            link.vfs = old.vfs
            message = .newLink(link)
            vfRefresh.insert(link.index)
        }
        noteBondChange(&message)
        var consequences: MirrorTables.Consequences = []
        noteDeltas { consequences = tables.apply(message, into: &$0) }
        if consequences.contains(.redumpRoutes) {
            redumpScope = .all
        } else if consequences.contains(.redumpRoutesThroughLink), case .newLink(let link) = message {
            switch redumpScope {
            case .all?: break
            case .links(let links)?: redumpScope = .links(links.union([link.index]))
            case nil: redumpScope = .links([link.index])
            }
        }
        if redumpScope != nil, redumpDue == nil {
            redumpDue = Self.now() + UInt64(configuration.redumpDelayMilliseconds) * 1_000_000
        }
    }

    /// PFs whose link notification came without VFs: asked for after the receive.
    private var vfRefresh: Set<IfIndex> = []
    /// Bonds whose slave order may have changed: read after the receive (`refreshBonds`).
    private var bondRefresh: Set<IfIndex> = []

    /// A bond's notification carries no slave order: it keeps the one read before, and is
    /// read again after the receive when the bond is new or a slave joined or left it.
    private func noteBondChange(_ message: inout KernelMessage) {
        switch message {
        case .newLink(var link):
            let old = tables.links[link.index]
            if link.kind == .bond {
                if link.bond?.slaves == nil, let slaves = old?.bond?.slaves { link.bond?.slaves = slaves }
                if old == nil || old?.name != link.name { bondRefresh.insert(link.index) }
                message = .newLink(link)
            }
            if old?.master != link.master {
                for m in [old?.master, link.master].compactMap({ $0 }) where tables.links[m]?.kind == .bond { bondRefresh.insert(m) }
            }
        case .delLink(let link):
            if let m = tables.links[link.index]?.master, tables.links[m]?.kind == .bond { bondRefresh.insert(m) }
        default:
            break
        }
    }

    /// Reads the slave order of the bonds `ingest` noted, and applies what changed.
    private func refreshBonds() {
        guard !bondRefresh.isEmpty else { return }
        let indices = bondRefresh
        bondRefresh.removeAll()
        for index in indices.sorted(by: { $0.rawValue < $1.rawValue }) {
            guard var link = tables.links[index], link.kind == .bond else { continue }
            let slaves = requests.bondSlaves(of: link.name)
            guard link.bond?.slaves != slaves else { continue }
            if link.bond == nil { link.bond = BondAttributes() }
            link.bond?.slaves = slaves
            ingest(.newLink(link))
        }
    }

    /// Gives each bond of a dump its slave order.
    private func readBondSlaves(into tables: inout MirrorTables) {
        for (index, var link) in tables.links where link.kind == .bond {
            if link.bond == nil { link.bond = BondAttributes() }
            link.bond?.slaves = requests.bondSlaves(of: link.name)
            tables.links[index] = link
        }
    }

    /// Asks for the VFs of the PFs `ingest` noted, and applies what changed.
    private func refreshVFs() {
        guard !vfRefresh.isEmpty else { return }
        let indices = vfRefresh
        vfRefresh.removeAll()
        for index in indices.sorted(by: { $0.rawValue < $1.rawValue }) {
            guard var link = tables.links[index], let fetched = vfs(of: index), link.vfs != fetched else { continue }
            link.vfs = fetched
            ingest(.newLink(link))
        }
    }

    /// An SR-IOV PF's VFs as the kernel holds them now. Link notifications never carry them
    /// (the kernel adds `IFLA_VFINFO_LIST` only for requests with `RTEXT_FILTER_VF`), so
    /// a notification for a PF — `ip link set PF vf N …` sends one — is followed by a
    /// request for that one link. Nil when the request fails.
    private func vfs(of index: IfIndex) -> [VFInfo]?? {
        var fetched: Link?
        do {
            try requests.get(KernelRequest.getLink(index)) { if case .newLink(let l) = $0 { fetched = l } }
        } catch {
            return nil
        }
        return fetched.map { $0.vfs }
    }

    private func noteDeltas(_ body: (inout [MirrorDelta]) -> Void) {
        let before = pending.count
        if pending.isEmpty { pendingSince = Self.now() }
        body(&pending)
        statistics.deltas += pending.count - before
    }

    /// What the next route re-dump covers: every route, or the routes through some links
    /// (carrier or admin changes: a port flap on a switch with a million routes over its
    /// uplinks re-reads the few routes over that port, not the million).
    enum RedumpScope { case all, links(Set<IfIndex>) }
    private var redumpScope: RedumpScope?

    /// Re-dumps nexthops and the routes of `redumpScope`, and sweeps what the kernel
    /// changed or removed silently.
    private func redumpRoutes() throws {
        redumpDue = nil
        var scope = redumpScope ?? .all
        // Routes over a group with a member on such a link change silently and are not in
        // the kernel's filtered dump: those need every route.
        if case .links(let links) = scope, tables.groupsUse(links) { scope = .all }
        statistics.routeRedumps += 1
        var fresh = tables
        fresh.routes = RouteStore()
        fresh.nexthops = [:]
        switch scope {
        case .all:
            try dump([.nexthops, .routes], into: &fresh)
            noteDeltas { tables.diff(to: fresh, into: &$0) }
            tables.routes = fresh.routes
        case .links(let links):
            statistics.filteredRouteRedumps += 1
            try dump([.nexthops], into: &fresh)
            for link in links.sorted(by: { $0.rawValue < $1.rawValue }) { try dumpRoutes(through: link, into: &fresh) }
            var deltas: [MirrorDelta] = []
            tables.diffRoutes(to: fresh, through: links, into: &deltas)
            for d in deltas {
                guard case .route(let change) = d else { continue }
                switch change {
                case .added(let r), .changed(_, let r): tables.routes.upsert(r)
                case .removed(let r): tables.routes.remove(r.key)
                }
            }
            noteDeltas { $0 += deltas }
        }
        statistics.lastRedumpRoutes = fresh.routes.count
        redumpScope = nil
        tables.nexthops = fresh.nexthops
    }

    /// The routes through `link`, added to `tables` (a filtered dump; retried when a
    /// concurrent change interrupts it).
    private func dumpRoutes(through link: IfIndex, into tables: inout MirrorTables) throws {
        try dumpRetrying(into: &tables) { try requests.dumpRoutes(through: link, emit: $0) }
    }

    /// Applies one dump to a copy of `tables` and keeps it when the dump is whole; one a
    /// concurrent change interrupted (`NLM_F_DUMP_INTR`, EINTR) is tried again, up to
    /// `dumpAttempts`. The deltas the copy makes are dropped message by message (a fresh
    /// table's deltas are a diff's job): a million-route dump holds no million deltas.
    private func dumpRetrying(into tables: inout MirrorTables,
                              _ request: (_ emit: (KernelMessage) -> Void) throws -> Void) throws {
        var attempt = 1
        while true {
            var scratch = tables
            var ignored: [MirrorDelta] = []
            do {
                try request { message in
                    _ = scratch.apply(message, into: &ignored)
                    ignored.removeAll(keepingCapacity: true)
                }
                tables = scratch
                return
            } catch let error as NetlinkError where error.code == EINTR && attempt < configuration.dumpAttempts {
                attempt += 1
            }
        }
    }

    /// A fresh dump of everything the mirror holds, into new tables; the mirror itself is
    /// not changed (the audit compares the two).
    public func dumpTables() throws -> MirrorTables { try dumpAll() }

    /// Without `routes`, the route table stays empty (`start` dumps it last, itself).
    private func dumpAll(routes: Bool = true) throws -> MirrorTables {
        var fresh = MirrorTables()
        try dump([.links, .bridgePorts, .fdb, .mdb, .addresses, .nexthops] + (routes ? [.routes] : [])
                    + [.neighbors, .netconf, .rules, .qdiscs],
                 into: &fresh)
        readBondSlaves(into: &fresh)
        // Per-VLAN state exists only on kernels with bridge VLAN filtering; elsewhere the
        // dump is refused, which is not an error for the mirror.
        do {
            var withVLANs = fresh
            try dump([.vlans], into: &withVLANs)
            fresh = withVLANs
        } catch let error as NetlinkError where error.code == EOPNOTSUPP || error.code == EINVAL {
        }
        try dumpFilters(into: &fresh)
        return fresh
    }

    /// tc filters have no all-device dump: dump the hooks of every `ingress` / `clsact`
    /// qdisc the qdisc dump found (the qdisc must come first). A hook that vanished
    /// meanwhile (`EINVAL`, `ENOENT`) has no filters; its qdisc's removal follows as an event.
    private func dumpFilters(into tables: inout MirrorTables) throws {
        let hooks = tables.qdiscs.values.filter(\.isClassifierHook).sorted { $0.key < $1.key }
        for q in hooks {
            let parents = q.kind == "clsact" ? [TCFilter.ingressHook, TCFilter.egressHook] : [TCFilter.ingressHook]
            for parent in parents {
                do {
                    try dumpRetrying(into: &tables) { try requests.dumpFilters(interface: q.key.interface, parent: parent, emit: $0) }
                } catch let error as NetlinkError where error.code == EINVAL || error.code == ENOENT || error.code == ENODEV {
                }
            }
        }
    }

    private func dump(_ kinds: [DumpKind], into tables: inout MirrorTables) throws {
        for kind in kinds { try dumpRetrying(into: &tables) { try requests.dump(kind, emit: $0) } }
    }

    private func syncMalformed() {
        statistics.malformed = events.malformedCount + requests.malformedCount
    }

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

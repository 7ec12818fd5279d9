import Daemon
import Dispatch
import Foundation
import Offload
import Prometheus
import SwitchDriver
import SwitchModel

/// hoistd's Prometheus metrics (`hoistd --metrics ADDRESS:PORT`), through swift-prometheus's
/// registry: what `hoist show counters|traps|resources|audit` and the offload states say,
/// as numbers a time series database can graph.
///
/// Values are read from the daemon on the loop when a scraper asks (`refresh`), so a scrape
/// sees now. Counters the driver keeps as totals (a port's packets, traps by reason) are
/// followed by their increase; a total that went down (a restarted chip) starts the
/// counter again from its new value, as a Prometheus counter reset. Objects per kind and
/// state are counted from an engine snapshot: on the loop up to `inlineCountLimit`
/// objects, on a worker thread above (a scrape then shows the previous count).
public final class MetricsService: @unchecked Sendable {
    public let registry = PrometheusCollectorRegistry()
    let daemon: SwitchDaemon
    let query: OffloadQuery
    /// Counted on the loop up to this many objects; beyond, on a worker thread.
    static let inlineCountLimit = 100_000

    private var totals: [String: (counter: Counter, last: Int64)] = [:]
    private var gauges: [String: Gauge] = [:]
    private let latency: DurationHistogram
    private let counting = DispatchQueue(label: "hoist.metrics.count", qos: .utility)
    /// A worker's count, handed to the loop (`lock` guards it and `countInFlight`).
    private let lock = NSLock()
    private var countInFlight = false
    private var counted: [[String]: Int]?
    /// The label sets of `hoist_objects` last set, to zero those that disappeared.
    private var objectLabels: Set<[String]> = []

    public init(daemon: SwitchDaemon) {
        self.daemon = daemon
        query = OffloadQuery(daemon: daemon)
        latency = registry.makeDurationHistogram(
            name: "hoist_offload_latency_seconds",
            buckets: [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5),
                      .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                      .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5)],
            help: "From reading a batch of kernel changes to the driver having what they ask for")
        daemon.onBatchOffloaded = { [latency] _, nanoseconds in
            latency.recordNanoseconds(Int64(nanoseconds))
        }
    }

    /// The exposition (text format 0.0.4) with the values of now.
    public func scrape() -> [UInt8] {
        refresh()
        return registry.emitToBuffer()
    }

    /// Reads the daemon's counters, occupancy and statistics into the registry (on the loop).
    public func refresh() {
        let counters = daemon.driver.counters()
        let rows = query.rows()
        for (port, c) in counters.ports {
            guard rows.exists(port) else { continue }      // as `show counters`
            let name = rows.portName(port)
            let labels = [("port", name)]
            total("hoist_port_rx_packets_total", labels, c.rxPackets, "Packets the chip received on the port")
            total("hoist_port_rx_bytes_total", labels, c.rxBytes, "Bytes the chip received on the port")
            total("hoist_port_tx_packets_total", labels, c.txPackets, "Packets the chip sent out of the port")
            total("hoist_port_tx_bytes_total", labels, c.txBytes, "Bytes the chip sent out of the port")
            total("hoist_port_rx_dropped_total", labels, c.rxDrops, "Packets the chip dropped as they arrived on the port")
        }
        for (reason, n) in counters.drops {
            total("hoist_drops_total", [("reason", reason.rawValue)], n, "Packets the chip dropped, by reason")
        }
        for (reason, t) in counters.traps {
            total("hoist_traps_total", [("reason", reason.rawValue)], t.packets, "Packets the chip sent to the CPU, by trap reason")
            total("hoist_trap_policer_drops_total", [("reason", reason.rawValue)], t.policerDrops,
                  "Trapped packets the chip's CPU policer dropped, by trap reason")
        }
        total("hoist_chip_events_lost_total", [], counters.eventsLost, "Events the chip's queue lost (learned MACs re-read after)")

        let caps = daemon.driver.capabilities
        var use = caps.programsHardware ? daemon.engine.occupancy() : counters.tables
        if caps.programsHardware, !daemon.learned.isEmpty {
            use[.fdb, default: TableOccupancy(used: 0, capacity: caps.capacity(.fdb))].used += daemon.learned.count
        }
        for (table, u) in use {
            gauge("hoist_table_entries", [("table", table.rawValue)], Double(u.used), "Entries a hardware table holds")
            gauge("hoist_table_capacity", [("table", table.rawValue)], Double(u.capacity), "Entries a hardware table can hold")
        }

        let m = daemon.mirror.statistics
        total("hoist_mirror_resyncs_total", [], UInt64(m.resyncs), "Full resyncs of the kernel mirror (after an overrun)")
        total("hoist_mirror_overruns_total", [], UInt64(m.overruns), "Receive errors on the mirror's events socket (ENOBUFS)")
        total("hoist_mirror_failed_dumps_total", [], UInt64(m.failedDumps), "Mirror dumps that failed and were put off")
        total("hoist_mirror_messages_total", [], UInt64(m.messages), "Netlink messages the mirror read")
        let a = daemon.auditStatistics
        total("hoist_audit_passes_total", [], UInt64(a.passes), "Continuous audit passes completed")
        total("hoist_audit_drift_found_total", [], UInt64(a.driftFound), "Chip objects found different from what hoistd programmed")
        total("hoist_audit_drift_repaired_total", [], UInt64(a.driftRepaired), "Drifted chip objects repaired")
        let s = daemon.statistics
        total("hoist_fdb_writes_total", [], UInt64(s.fdbWrites), "Chip-learned MACs written to (or removed from) the kernel")
        total("hoist_fdb_write_failures_total", [], UInt64(s.fdbWriteFailures), "FDB write-backs the kernel refused")
        total("hoist_hardware_losses_total", [], UInt64(s.hardwareLosses), "Times the hardware (the chip process) was lost")
        gauge("hoist_engine_pending_objects", [], Double(daemon.engine.pendingKeys.count), "Objects waiting for the engine to program them")
        gauge("hoist_engine_objects", [], Double(daemon.engine.objectCount), "Objects the engine holds")

        countObjects()
    }

    /// `hoist_objects{kind,state}` from a snapshot (O(1) to take).
    private func countObjects() {
        let snapshot = daemon.engine.snapshot()
        if snapshot.count <= Self.inlineCountLimit {
            publish(QueryRows.stateCounts(snapshot))
            return
        }
        let (done, busy): ([[String]: Int]?, Bool) = lock.withLock {
            defer { counted = nil }
            return (counted, countInFlight)
        }
        if let done { publish(done) }
        guard !busy else { return }
        lock.withLock { countInFlight = true }
        counting.async { [self] in
            let counts = QueryRows.stateCounts(snapshot)
            lock.withLock {
                counted = counts
                countInFlight = false
            }
        }
    }

    private func publish(_ counts: [[String]: Int]) {
        for labels in objectLabels.subtracting(counts.keys) {
            gauge("hoist_objects", [("kind", labels[0]), ("state", labels[1])], 0, Self.objectsHelp)
        }
        for (labels, n) in counts {
            gauge("hoist_objects", [("kind", labels[0]), ("state", labels[1])], Double(n), Self.objectsHelp)
        }
        objectLabels = Set(counts.keys)
    }

    static let objectsHelp = "Objects hoistd offloads, by kind and offload state (offloaded, trapped, pending, failed)"

    /// A counter that follows a total kept elsewhere.
    private func total(_ name: String, _ labels: [(String, String)], _ value: UInt64, _ help: String) {
        let id = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        let now = Int64(clamping: value)
        guard let (counter, last) = totals[id] else {
            let counter = labels.isEmpty ? registry.makeCounter(name: name, help: help) : registry.makeCounter(name: name, labels: labels, help: help)
            counter.increment(by: now)
            totals[id] = (counter, now)
            return
        }
        if now >= last {
            counter.increment(by: now - last)
        } else {
            counter.reset()
            counter.increment(by: now)
        }
        totals[id] = (counter, now)
    }

    private func gauge(_ name: String, _ labels: [(String, String)], _ value: Double, _ help: String) {
        let id = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        if let g = gauges[id] {
            g.set(to: value)
            return
        }
        let g = labels.isEmpty ? registry.makeGauge(name: name, help: help) : registry.makeGauge(name: name, labels: labels, help: help)
        g.set(to: value)
        gauges[id] = g
    }
}

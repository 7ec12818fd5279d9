import ControlAPI
import Daemon
import Foundation
import Offload
import Rendering
import SwitchDriver
import SwitchModel

/// Answers `hoist show` and `hoist why` from the engine's offload states and the driver's
/// counters. Streamed `show` answers (`stream(_:)`) are rendered from a snapshot on a
/// worker thread; one-line answers on the loop.
public struct OffloadQuery {
    let daemon: SwitchDaemon

    public init(daemon: SwitchDaemon) { self.daemon = daemon }

    /// The rows of the engine's objects as they are now (`snapshot`: O(1) on the loop).
    func rows() -> QueryRows {
        var names: [PortID: String] = [:]
        for p in daemon.driver.capabilities.ports { names[p.id] = p.name }
        names.merge(daemon.lagNames) { a, _ in a }
        var rows = QueryRows(snapshot: daemon.engine.snapshot(), portNames: names, programsHardware: daemon.driver.capabilities.programsHardware)
        // From the mirror's links, in one pass: every netdev's name by index, the vxlan
        // device of each VNI, and the kernel's view of the ports and bonds (`show ports`).
        let links = daemon.mirror.tables.links
        let portNames = Set(names.values)
        for link in links.values {
            rows.deviceNames[link.index.rawValue] = link.name
            if let vni = link.vxlan?.vni { rows.vxlanDevices[vni] = link.name }
            if portNames.contains(link.name) {
                rows.links[link.name] = QueryRows.PortLink(adminUp: link.adminUp, carrier: link.carrier, operState: link.operState,
                                                           mtu: link.mtu, master: link.master.flatMap { links[$0]?.name })
            }
        }
        return rows
    }

    /// What `hoist show` knows, in the order `hoist show --help` lists them.
    static let objects = ["ports", "bridges", "fdb", "vlans", "stp", "mdb", "vxlan", "routes", "nexthops", "neighbors", "rifs",
                          "vrfs", "lags", "acl", "resources", "counters", "traps", "vfs", "audit", "summary"]

    public func handle(_ request: ControlRequest) -> ControlResponse {
        switch request.command {
        case .show:
            switch filter(request) {
            case .failure(let e): return .error(e.message)
            case .success(let selection):
                var rows: [JSONValue] = []
                show(request.object, matching: selection)({ rows.append($0); return true })
                return .objects(rows)
            }
        case .watch:
            guard request.object.isEmpty || Self.objects.contains(request.object) else {
                return .error("unknown object '\(request.object)'; one of: \(Self.objects.joined(separator: ", "))")
            }
            return .watching
        case .audit:
            guard request.object.isEmpty || request.object == "repair" else {
                return .error("audit takes no object, or \"repair\"")
            }
            do {
                return .objects(try audit(repair: request.object == "repair"))
            } catch {
                return .error("audit: \(error)")
            }
        case .why:
            let wanted = request.object.trimmingCharacters(in: .whitespaces)
            let rows = rows()
            // A route by its prefix is one lookup, not a scan of every object.
            if wanted.hasPrefix("route "), let prefix = IPPrefix(String(wanted.dropFirst(6)).trimmingCharacters(in: .whitespaces)) {
                let key = HardwareKey.route(vrf: 254, prefix)      // the main table
                if let state = daemon.engine.state(of: key), let object = daemon.engine.desiredObject(key) {
                    return .objects([rows.row(key, object, state)])
                }
            }
            let states = daemon.engine.states()
            // By the key's name or the row's (with interface names: `router interface br0`).
            var matches = states.filter { rows.names($0.key, wanted, exactly: true) }
            if matches.isEmpty { matches = states.filter { rows.names($0.key, wanted, exactly: false) } }
            // MACs the chip learned itself have no engine state; they are found by name too.
            let learned = matches.isEmpty ? rows.chipLearned(daemon.learned).filter { Self.name(of: $0)?.contains(wanted) == true } : []
            // Kernel objects without a hardware object of their own (a macvlan, a tc qdisc)
            // are named in the reasons of the objects they trap.
            if matches.isEmpty, learned.isEmpty, !wanted.isEmpty {
                matches = states.filter { $0.state.reason?.split(whereSeparator: { " :;,".contains($0) }).contains { $0 == wanted } == true }
            }
            guard !matches.isEmpty || !learned.isEmpty else {
                return .error("no object matches '\(wanted)'; `hoist show routes` (or ports, fdb, …) lists them")
            }
            return .objects(matches.map { rows.row($0.key, $0.object, $0.state) } + learned)
        }
    }

    /// A streamed `show`: the filter is checked on the loop (an error is answered there), the
    /// rows are produced by the worker from what `show` captured now.
    public func stream(_ request: ControlRequest) -> ControlStream? {
        guard request.command == .show, case .success(let matching) = filter(request) else { return nil }
        let produce = show(request.object, matching: matching)
        return ControlStream { emit in produce(emit) }
    }

    /// Which objects a `show` request selects; an error for an unknown kind, a bad prefix
    /// or an unknown VRF.
    func filter(_ request: ControlRequest) -> Result<Selection, ControlError> {
        guard Self.objects.contains(request.object) else {
            return .failure(ControlError(message: "unknown object '\(request.object)'; one of: \(Self.objects.joined(separator: ", "))"))
        }
        var selection = Selection(state: request.state)
        if let p = request.prefix {
            guard let parsed = IPPrefix(p) ?? IPAddress(p).map({ IPPrefix(address: $0, length: $0.isIPv4 ? 32 : 128) }) else {
                return .failure(ControlError(message: "not a prefix: '\(p)'"))
            }
            selection.prefix = parsed
        }
        if let vrf = request.vrf {
            switch vrf {
            // The local table's addresses are placed in main (254), so there is no `local`.
            case "main", "default": selection.table = 254
            default:
                if let n = UInt32(vrf) {
                    selection.table = n
                } else if let link = daemon.mirror.tables.links.values.first(where: { $0.name == vrf }) {
                    guard link.kind == .vrf, let t = link.vrfTable else {
                        return .failure(ControlError(message: "\(vrf) is not a VRF device"))
                    }
                    selection.table = t
                } else {
                    return .failure(ControlError(message: "no VRF named '\(vrf)' (a vrf device's name, a table id, or main)"))
                }
            }
        }
        return .success(selection)
    }

    /// One line per changed object for `hoist watch`: its row, or `offload: removed`.
    public func changes(_ keys: Set<HardwareKey>) -> [(kind: String, object: JSONValue)] {
        let rows = rows()
        return keys.sorted(by: QueryRows.naturalOrder).map { key in
            let kind = QueryRows.kind(of: key)
            guard let state = daemon.engine.state(of: key), let object = daemon.engine.desiredObject(key) else {
                return (kind, .object([("object", .string(rows.displayName(key))), ("offload", .string("removed"))]))
            }
            return (kind, rows.row(key, object, state))
        }
    }

    /// The rows of `hoist show KIND` that `selection` accepts, as a producer: what it needs
    /// is taken now (an engine snapshot, copies of small tables), the rows are rendered when
    /// it runs — on a worker thread for a streamed answer.
    func show(_ kind: String, matching selection: Selection) -> @Sendable ((JSONValue) -> Bool) -> Void {
        let loopRows: [JSONValue]
        switch kind {
        case "audit":
            let a = daemon.auditStatistics
            loopRows = [.object([("object", .string("audit")), ("interval_ms", .int(Int64(daemon.auditSettings.interval * 1000))),
                                 ("slice", .int(Int64(daemon.auditSettings.sliceBudget))), ("passes", .int(Int64(a.passes))),
                                 ("checked", .int(Int64(a.checked))), ("drift_found", .int(Int64(a.driftFound))),
                                 ("drift_repaired", .int(Int64(a.driftRepaired))), ("last_pass_drift", .int(Int64(a.lastPassDrift))),
                                 ("on_demand", .int(Int64(a.onDemand))), ("on_demand_drift", .int(Int64(a.onDemandDrift))),
                                 ("read_failures", .int(Int64(a.readFailures)))])]
        case "vrfs":
            loopRows = vrfRows()
        case "acl":
            loopRows = aclRows()
        case "resources":
            // An observer's hardware is programmed by the kernel's driver: its own counters
            // (devlink occupancy and size) are the truth, not what the engine accepted.
            let caps = daemon.driver.capabilities
            var use = caps.programsHardware ? daemon.engine.occupancy() : daemon.driver.counters().tables
            // The FDB table also holds what the chip learned itself: programmed + learned.
            if caps.programsHardware, !daemon.learned.isEmpty {
                use[.fdb, default: TableOccupancy(used: 0, capacity: caps.capacity(.fdb))].used += daemon.learned.count
            }
            loopRows = use.sorted { $0.key.rawValue < $1.key.rawValue }.map { table, use in
                .object([("table", .string(table.rawValue)), ("used", .int(Int64(use.used))), ("capacity", .int(Int64(use.capacity)))])
            }
        case "counters":
            let c = daemon.driver.counters()
            let rows = rows()
            // Only the ports that exist: a chip with 64 ports wired to 4 has swp1…swp4.
            var out: [JSONValue] = c.ports.filter { rows.exists($0.key) }.sorted { $0.key < $1.key }.map { port, p in
                .object([("ifname", .string(rows.portName(port))), ("rx_packets", .int(Int64(p.rxPackets))), ("rx_bytes", .int(Int64(p.rxBytes))),
                         ("tx_packets", .int(Int64(p.txPackets))), ("tx_bytes", .int(Int64(p.txBytes))), ("rx_dropped", .int(Int64(p.rxDrops)))])
            }
            out += c.drops.sorted { $0.key.rawValue < $1.key.rawValue }.map { .object([("drop", .string($0.key.rawValue)), ("packets", .int(Int64($0.value)))]) }
            out.append(.object([("event_queue", .string("overflow")), ("events_lost", .int(Int64(c.eventsLost)))]))
            loopRows = out
        case "summary":
            // Objects per kind and state, counted from a snapshot where the rows are made
            // (a worker thread for a streamed answer): one scan, whatever the table size.
            let snapshot = daemon.engine.snapshot()
            let all = selection.isAll
            return { emit in
                guard all else { return }
                let counts = QueryRows.stateCounts(snapshot)
                for kind in Self.objects where counts.keys.contains(where: { $0[0] == kind }) {
                    var fields: [(String, JSONValue)] = [("kind", .string(kind))]
                    var total = 0
                    for state in ["offloaded", "trapped", "pending", "failed"] {
                        let n = counts[[kind, state]] ?? 0
                        total += n
                        fields.append((state, .int(Int64(n))))
                    }
                    fields.append(("total", .int(Int64(total))))
                    if !emit(.object(fields)) { return }
                }
            }
        case "traps":
            loopRows = daemon.driver.counters().traps.sorted { $0.key.rawValue < $1.key.rawValue }.map { reason, t in
                .object([("trap", .string(reason.rawValue)), ("packets", .int(Int64(t.packets))), ("policer_drops", .int(Int64(t.policerDrops)))])
            }
        default:
            // The engine's objects, from a snapshot; for fdb, then the MACs the hardware learned.
            let rows = rows()
            let learned = kind == "fdb" && daemon.readsLearnedMACs ? daemon.learned : [:]
            let hardware = kind == "fdb" && !daemon.readsLearnedMACs ? hardwareLearned() : []
            return { emit in
                var going = true
                rows.objects(kind, matching: { selection.accepts($0, $1) }, emit: { going = emit($0); return going })
                guard going, selection.acceptsLearned else { return }
                for row in rows.chipLearned(learned) + hardware where !emit(row) { return }
            }
        }
        // Rows without an engine state have no offload state: a state, prefix or VRF selects none.
        let selected = selection.isAll ? loopRows : []
        return { emit in
            for row in selected where !emit(row) { return }
        }
    }

    /// `hoist show vrfs`: each vrf device (`ip -j -d link show type vrf`: `ifname`, `table`),
    /// its members, the routes of its table in the kernel, and its state — its members'
    /// router interfaces' (each carries the table; the first that is not offloaded gives
    /// the VRF's state and reason).
    func vrfRows() -> [JSONValue] {
        let tables = daemon.mirror.tables
        return tables.links.values.filter { $0.kind == .vrf }.sorted { $0.name < $1.name }.map { vrf in
            let members = tables.links.values.filter { $0.master == vrf.index }.sorted { $0.name < $1.name }
            var fields: [(String, JSONValue)] = [("ifname", .string(vrf.name))]
            if let t = vrf.vrfTable {
                fields += [("table", .int(Int64(t))), ("routes", .int(Int64(tables.routes.count(in: RouteTable(rawValue: t)))))]
            }
            fields.append(("members", .array(members.map { .string($0.name) })))
            let states = members.compactMap { daemon.engine.state(of: .routerInterface(RouterInterfaceID(interface: $0.index))) }
            let state = states.first { $0.name != "offloaded" } ?? states.first
            fields.append(("offload", .string(state?.name ?? (vrf.vrfTable == nil ? "trapped" : "offloaded"))))
            if let reason = state?.reason ?? (vrf.vrfTable == nil ? "table not known" : nil) { fields.append(("reason", .string(reason))) }
            return .object(fields)
        }
    }

    /// `hoist show acl`: every tc filter on a chip port's ingress (`tc -j filter show dev
    /// PORT ingress`: `pref`, `handle`, `protocol`, `kind`), its match and action, its state —
    /// the port ACL's when the chip holds the rule, else the port's (its ingress trapped, and
    /// why) — and the chip's hit counters (`tc -s` shows only the kernel's own).
    func aclRows() -> [JSONValue] {
        let rows = rows()
        let byName = Dictionary(rows.portNames.map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let counters = daemon.driver.capabilities.features.contains(.acl) ? daemon.driver.counters().acl : [:]
        let tables = daemon.mirror.tables
        var out: [(String, UInt16, UInt32, JSONValue)] = []
        for f in tables.tcFilters.values where f.isIngress {
            guard let name = tables.links[f.key.interface]?.name, let port = byName[name] else { continue }
            var fields: [(String, JSONValue)] = [("ifname", .string(name)), ("pref", .int(Int64(f.key.priority))),
                                                 ("handle", .string("0x" + String(f.key.handle, radix: 16))),
                                                 ("protocol", .string(ACLRule.protocolName(f.etherType))), ("kind", .string(f.kind))]
            if let c = f.classifier {
                if c.chain != 0 { fields.append(("chain", .int(Int64(c.chain)))) }
                fields += [("match", .string(c.match.description)), ("action", .string(c.unsupported == nil ? c.verdict.rawValue : "-"))]
            }
            let inHardware: Bool
            if case .acl(let a)? = daemon.engine.desiredObject(.acl(port)),
               a.rules.contains(where: { $0.priority == f.key.priority && $0.handle == f.key.handle }),
               let state = daemon.engine.state(of: .acl(port)) {
                fields.append(("offload", .string(state.name)))
                if let reason = state.reason { fields.append(("reason", .string(rows.named(reason)))) }
                inHardware = state.name == "offloaded"
            } else {
                let port = daemon.engine.state(of: .port(port))
                fields.append(("offload", .string("trapped")))
                fields.append(("reason", .string(port?.reason.map { rows.named($0) } ?? "not offloaded")))
                inHardware = false
            }
            if inHardware, let hits = counters[ACLRuleID(port: port, priority: f.key.priority, handle: f.key.handle)] {
                fields += [("packets", .int(Int64(hits.packets))), ("bytes", .int(Int64(hits.bytes)))]
            }
            out.append((name, f.key.priority, f.key.handle, .object(fields)))
        }
        return out.sorted { a, b in a.0 != b.0 ? QueryRows.naturalLess(a.0, b.0) : (a.1, a.2) < (b.1, b.2) }.map(\.3)
    }

    /// `hoist audit`: a summary object, then one object per difference.
    func audit(repair: Bool) throws -> [JSONValue] {
        let r = try daemon.auditNow(repair: repair)
        var out: [JSONValue] = [.object([("object", .string("audit")), ("drift", .int(Int64(r.findings.count))),
                                         ("kernel_objects", .int(Int64(r.kernelObjects))), ("desired_objects", .int(Int64(r.desiredObjects))),
                                         ("chip_objects", .int(Int64(r.chipObjects))), ("repaired", .bool(r.repaired))])]
        for f in r.findings {
            var fields: [(String, JSONValue)] = [("object", .string(f.object)), ("side", .string(f.side)), ("drift", .string(f.kind))]
            if let e = f.expected { fields.append(("expected", .string(e))) }
            if let found = f.found { fields.append(("found", .string(found))) }
            out.append(.object(fields))
        }
        return out
    }

    /// MACs the hardware learned itself and the kernel holds for it (`extern_learn
    /// offload`: switchdev's `SWITCHDEV_FDB_ADD_TO_BRIDGE` with `offloaded`), on the
    /// driver's ports. The stages never program them, so the engine has no state for them.
    func hardwareLearned() -> [JSONValue] {
        let tables = daemon.mirror.tables
        let names = Set(daemon.driver.capabilities.ports.map(\.name))
        return tables.fdb.values.filter { $0.flags.contains(.externLearn) && $0.flags.contains(.offload) }
            .sorted { $0.key < $1.key }
            .compactMap { e -> JSONValue? in
                guard let port = tables.links[e.key.port], names.contains(port.name) else { return nil }
                let master = port.master.flatMap { tables.links[$0]?.name }
                return .object([("object", .string("fdb \(e.key.mac) vlan \(e.key.vlan) \(port.name) learned")),
                                ("mac", .string(e.key.mac.description)), ("vlan", .int(Int64(e.key.vlan.rawValue))),
                                ("ifname", .string(port.name))] + (master.map { [("master", JSONValue.string($0))] } ?? []) + [
                                ("learned", .bool(true)), ("offload", .string("offloaded")),
                                ("confirmed", .bool(true)), ("evidence", .string("kernel flags extern_learn offload")),
                                ("flags", .array(e.flags.names.map { .string($0) }))])
            }
    }

    /// A row's `object` field.
    static func name(of row: JSONValue) -> String? {
        guard case .object(let fields) = row,
              case .string(let name)? = fields.first(where: { $0.0 == "object" })?.1 else { return nil }
        return name
    }
}

/// What a `show` request selects: objects in a state; routes with a prefix or of a table.
struct Selection: Sendable {
    var state: String?
    var prefix: IPPrefix?
    var table: UInt32?

    /// No filter at all.
    var isAll: Bool { state == nil && prefix == nil && table == nil }

    /// Rows of MACs the hardware learned (offloaded, no prefix, no table).
    var acceptsLearned: Bool { prefix == nil && table == nil && (state == nil || state == "offloaded") }

    func accepts(_ key: HardwareKey, _ s: OffloadState) -> Bool {
        if let state, s.name != state { return false }
        guard prefix != nil || table != nil else { return true }
        guard case .route(let vrf, let p) = key else { return false }
        return (prefix == nil || p == prefix) && (table == nil || vrf == table)
    }
}

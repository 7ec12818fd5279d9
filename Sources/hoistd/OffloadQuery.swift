import ControlAPI
import Daemon
import Foundation
import Offload
import Rendering
import SwitchDriver
import SwitchModel

/// Answers `hoist show` and `hoist why` from the engine's offload states and the driver's
/// counters.
struct OffloadQuery {
    let daemon: SwitchDaemon

    /// What `hoist show` knows, in the order `hoist show --help` lists them.
    static let objects = ["ports", "fdb", "vlans", "stp", "mdb", "vxlan", "routes", "nexthops", "neighbors", "rifs",
                          "resources", "counters", "traps", "vfs", "audit"]

    func handle(_ request: ControlRequest) -> ControlResponse {
        switch request.command {
        case .show:
            guard Self.objects.contains(request.object) else {
                return .error("unknown object '\(request.object)'; one of: \(Self.objects.joined(separator: ", "))")
            }
            var prefix: IPPrefix?
            if let p = request.prefix {
                guard let parsed = IPPrefix(p) ?? IPAddress(p).map({ IPPrefix(address: $0, length: $0.isIPv4 ? 32 : 128) }) else {
                    return .error("not a prefix: '\(p)'")
                }
                prefix = parsed
            }
            let rows = show(request.object, matching: { key, state in
                (request.state == nil || state.name == request.state)
                    && (prefix == nil || { if case .route(_, let p) = key { p == prefix } else { false } }())
            })
            guard request.state != nil || prefix != nil else { return .objects(rows) }
            // Again by the rows' own fields: rows without an engine state (chip-learned MACs,
            // counters) have an "offload" field or none, and are no routes.
            return .objects(rows.filter { row in
                guard case .string(let name)? = row["object"] else { return false }
                if prefix != nil, !name.hasPrefix("route ") { return false }
                guard let state = request.state else { return true }
                if case .string(let s)? = row["offload"] { return s == state }
                return false
            })
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
            // A route by its prefix is one lookup, not a scan of every object.
            if wanted.hasPrefix("route "), let prefix = IPPrefix(String(wanted.dropFirst(6)).trimmingCharacters(in: .whitespaces)) {
                let key = HardwareKey.route(vrf: 254, prefix)      // the main table
                if let state = daemon.engine.state(of: key), let object = daemon.engine.desiredObject(key) {
                    return .objects([row(key, object, state)])
                }
            }
            let states = daemon.engine.states()
            var matches = states.filter { $0.key.description == wanted }
            if matches.isEmpty { matches = states.filter { $0.key.description.contains(wanted) } }
            // MACs the chip learned itself have no engine state; they are found by name too.
            let learned = matches.isEmpty ? chipLearned().filter { Self.name(of: $0)?.contains(wanted) == true } : []
            // Kernel objects without a hardware object of their own (a macvlan, a tc qdisc)
            // are named in the reasons of the objects they trap.
            if matches.isEmpty, learned.isEmpty, !wanted.isEmpty {
                matches = states.filter { $0.state.reason?.split(whereSeparator: { " :;,".contains($0) }).contains { $0 == wanted } == true }
            }
            guard !matches.isEmpty || !learned.isEmpty else {
                return .error("no object matches '\(wanted)'; `hoist show routes` (or ports, fdb, …) lists them")
            }
            return .objects(matches.map { row($0.key, $0.object, $0.state) } + learned)
        }
    }

    /// One line per changed object for `hoist watch`: its row, or `offload: removed`.
    func changes(_ keys: Set<HardwareKey>) -> [(kind: String, object: JSONValue)] {
        keys.sorted { ($0.rank, $0.description) < ($1.rank, $1.description) }.map { key in
            let kind = Self.kind(of: key)
            guard let state = daemon.engine.state(of: key), let object = daemon.engine.desiredObject(key) else {
                return (kind, .object([("object", .string(key.description)), ("offload", .string("removed"))]))
            }
            return (kind, row(key, object, state))
        }
    }

    /// The rows of `hoist show KIND`, of the objects `matching` accepts.
    func show(_ kind: String, matching: (HardwareKey, OffloadState) -> Bool = { _, _ in true }) -> [JSONValue] {
        switch kind {
        case "audit":
            let a = daemon.auditStatistics
            return [.object([("object", .string("audit")), ("interval_ms", .int(Int64(daemon.auditSettings.interval * 1000))),
                             ("slice", .int(Int64(daemon.auditSettings.sliceBudget))), ("passes", .int(Int64(a.passes))),
                             ("checked", .int(Int64(a.checked))), ("drift_found", .int(Int64(a.driftFound))),
                             ("drift_repaired", .int(Int64(a.driftRepaired))), ("last_pass_drift", .int(Int64(a.lastPassDrift))),
                             ("on_demand", .int(Int64(a.onDemand))), ("on_demand_drift", .int(Int64(a.onDemandDrift))),
                             ("read_failures", .int(Int64(a.readFailures)))])]
        case "resources":
            // An observer's hardware is programmed by the kernel's driver: its own counters
            // (devlink occupancy and size) are the truth, not what the engine accepted.
            let caps = daemon.driver.capabilities
            var use = caps.programsHardware ? daemon.engine.occupancy() : daemon.driver.counters().tables
            // The FDB table also holds what the chip learned itself: programmed + learned.
            if caps.programsHardware, !daemon.learned.isEmpty {
                use[.fdb, default: TableOccupancy(used: 0, capacity: caps.capacity(.fdb))].used += daemon.learned.count
            }
            return use.sorted { $0.key.rawValue < $1.key.rawValue }.map { table, use in
                .object([("table", .string(table.rawValue)), ("used", .int(Int64(use.used))), ("capacity", .int(Int64(use.capacity)))])
            }
        case "counters":
            let c = daemon.driver.counters()
            var out: [JSONValue] = c.ports.sorted { $0.key < $1.key }.map { port, p in
                .object([("ifname", .string(portName(port))), ("rx_packets", .int(Int64(p.rxPackets))), ("rx_bytes", .int(Int64(p.rxBytes))),
                         ("tx_packets", .int(Int64(p.txPackets))), ("tx_bytes", .int(Int64(p.txBytes))), ("rx_dropped", .int(Int64(p.rxDrops)))])
            }
            out += c.drops.sorted { $0.key.rawValue < $1.key.rawValue }.map { .object([("drop", .string($0.key.rawValue)), ("packets", .int(Int64($0.value)))]) }
            out.append(.object([("event_queue", .string("overflow")), ("events_lost", .int(Int64(c.eventsLost)))]))
            return out
        case "traps":
            return daemon.driver.counters().traps.sorted { $0.key.rawValue < $1.key.rawValue }.map { reason, t in
                .object([("trap", .string(reason.rawValue)), ("packets", .int(Int64(t.packets))), ("policer_drops", .int(Int64(t.policerDrops)))])
            }
        case "fdb":
            return daemon.engine.states().filter { Self.kind(of: $0.key) == "fdb" && matching($0.key, $0.state) }.map { row($0.key, $0.object, $0.state) }
                + (daemon.readsLearnedMACs ? chipLearned() : hardwareLearned())
        default:
            return daemon.engine.states().filter { (Self.kind(of: $0.key) == kind || (kind == "stp" && Self.kind(of: $0.key) == "ports")) && matching($0.key, $0.state) }
                .map { row($0.key, $0.object, $0.state, stp: kind == "stp") }
        }
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
                return .object([("object", .string("fdb \(e.key.mac) vlan \(e.key.vlan) \(port.name) learned")),
                                ("mac", .string(e.key.mac.description)), ("vlan", .int(Int64(e.key.vlan.rawValue))),
                                ("dst", .string(port.name)), ("learned", .bool(true)), ("offload", .string("offloaded")),
                                ("confirmed", .bool(true)), ("evidence", .string("kernel flags extern_learn offload")),
                                ("flags", .array(e.flags.names.map { .string($0) }))])
            }
    }

    /// MACs the chip learned itself, as the daemon holds them (its learned, moved and aged
    /// events, re-read after a loss): in the chip, so `offloaded`, confirmed (the chip
    /// reported them); written to the kernel as
    /// `extern_learn` (the flags iproute2 shows for a switchdev-learned entry).
    func chipLearned() -> [JSONValue] {
        daemon.learned.values
            .sorted { ($0.bridge.rawValue, $0.vid.rawValue, $0.mac) < ($1.bridge.rawValue, $1.vid.rawValue, $1.mac) }
            .map { f in
                let dst: String = if case .port(let p) = f.destination { portName(p) } else { f.destination.description }
                return .object([("object", .string("fdb \(f.mac) vlan \(f.vid.rawValue) \(dst) learned")),
                                ("mac", .string(f.mac.description)), ("vlan", .int(Int64(f.vid.rawValue))),
                                ("dst", .string(dst)), ("learned", .bool(true)), ("offload", .string("offloaded")),
                                ("confirmed", .bool(true)),
                                ("flags", .array([.string("extern_learn"), .string("offload")]))])
            }
    }

    /// A row's `object` field.
    static func name(of row: JSONValue) -> String? {
        guard case .object(let fields) = row,
              case .string(let name)? = fields.first(where: { $0.0 == "object" })?.1 else { return nil }
        return name
    }

    /// The kernel name of a driver port (`eth0` on a switchdev box, `swp1` on the emulated chip).
    func portName(_ port: PortID) -> String {
        daemon.driver.capabilities.ports.first { $0.id == port }?.name ?? port.description
    }

    static func kind(of key: HardwareKey) -> String {
        switch key {
        case .port: "ports"
        case .bridge: "bridges"
        case .vlanMember: "vlans"
        case .fdb: "fdb"
        case .mdb: "mdb"
        case .vxlanTunnel, .vxlanFlood: "vxlan"
        case .route: "routes"
        case .nexthop, .nexthopGroup: "nexthops"
        case .neighbor: "neighbors"
        case .routerInterface: "rifs"
        case .vf: "vfs"
        }
    }

    /// One object: its name, offload state and reason, and the fields iproute2 would show.
    func row(_ key: HardwareKey, _ object: HardwareObject, _ state: OffloadState, stp: Bool = false) -> JSONValue {
        var fields: [(String, JSONValue)] = [("object", .string(key.description))]
        switch object {
        case .port(let p):
            fields.append(("ifname", .string(portName(p.port))))
            fields.append(("state", .string(p.stpState.description)))
            if !stp {
                fields += [("learning", .bool(p.learning)), ("flood", .bool(p.unicastFlood)), ("mcast_flood", .bool(p.multicastFlood)),
                           ("bcast_flood", .bool(p.broadcastFlood)), ("isolated", .bool(p.isolated))]
                if p.locked { fields += [("locked", .bool(true)), ("mab", .bool(p.mab))] }
            }
        case .fdb(let f):
            fields += [("mac", .string(f.mac.description)), ("vlan", .int(Int64(f.vid.rawValue))), ("dst", .string({ if case .port(let p) = f.destination { portName(p) } else { f.destination.description } }()))]
        case .vlanMember(let m):
            var flags: [JSONValue] = []
            if m.pvid { flags.append(.string("PVID")) }
            if m.untagged { flags.append(.string("Egress Untagged")) }
            fields += [("ifname", .string(portName(m.port))), ("vlan", .int(Int64(m.vid.rawValue))), ("flags", .array(flags))]
        case .route(let r):
            fields += [("dst", .string(r.prefix.description)), ("action", .string(r.action.description))]
        case .neighbor(let n):
            fields += [("dst", .string(n.address.description)), ("lladdr", .string(n.mac.description))]
        case .vf(let v):
            fields += vfFields(v)
        default:
            fields.append(("detail", .string(object.description)))
        }
        fields.append(("offload", .string(state.name)))
        if let reason = state.reason { fields.append(("reason", .string(reason))) }
        // What the state rests on, for objects the driver holds: `confirmed` false when
        // the driver only accepted it (an observer, for kinds the kernel never flags);
        // `evidence` from an observer (the kernel's flag, or why there is none). A driver
        // that programs the chip confirms by holding the object.
        let evidence = daemon.engine.evidence(of: key)
        if let evidence {
            fields.append(("confirmed", .bool(evidence.confirmed)))
            if !daemon.driver.capabilities.programsHardware { fields.append(("evidence", .string(evidence.detail))) }
        }
        // iproute2's flags for the same state: `ip -j route` (`offload`, `trap`,
        // `offload_failed`: RTM_F_OFFLOAD, RTM_F_TRAP, RTM_F_OFFLOAD_FAILED) and
        // `bridge -j fdb` (`offload`) — not for an unconfirmed `offloaded`.
        switch (object, state) {
        case (.route, .offloaded) where evidence?.confirmed != false: fields.append(("flags", .array([.string("offload")])))
        case (.route, .trapped): fields.append(("flags", .array([.string("trap")])))
        case (.route, .failed): fields.append(("flags", .array([.string("offload_failed")])))
        case (.fdb, .offloaded) where evidence?.confirmed != false: fields.append(("flags", .array([.string("offload")])))
        default: break
        }
        return .object(fields)
    }
}

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
    static let objects = ["ports", "fdb", "vlans", "stp", "mdb", "vxlan", "routes", "nexthops", "neighbors",
                          "resources", "counters", "traps", "vfs"]

    func handle(_ request: ControlRequest) -> ControlResponse {
        switch request.command {
        case .show:
            guard Self.objects.contains(request.object) else {
                return .error("unknown object '\(request.object)'; one of: \(Self.objects.joined(separator: ", "))")
            }
            return .objects(show(request.object))
        case .watch:
            guard request.object.isEmpty || Self.objects.contains(request.object) else {
                return .error("unknown object '\(request.object)'; one of: \(Self.objects.joined(separator: ", "))")
            }
            return .watching
        case .why:
            let wanted = request.object.trimmingCharacters(in: .whitespaces)
            let states = daemon.engine.states()
            var matches = states.filter { $0.key.description == wanted }
            if matches.isEmpty { matches = states.filter { $0.key.description.contains(wanted) } }
            // Kernel objects without a hardware object of their own (a macvlan, a tc qdisc)
            // are named in the reasons of the objects they trap.
            if matches.isEmpty, !wanted.isEmpty {
                matches = states.filter { $0.state.reason?.split(whereSeparator: { " :;,".contains($0) }).contains { $0 == wanted } == true }
            }
            guard !matches.isEmpty else {
                return .error("no object matches '\(wanted)'; `hoist show routes` (or ports, fdb, …) lists them")
            }
            return .objects(matches.map { row($0.key, $0.object, $0.state) })
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

    func show(_ kind: String) -> [JSONValue] {
        switch kind {
        case "resources":
            // An observer's hardware is programmed by the kernel's driver: its own counters
            // (devlink occupancy and size) are the truth, not what the engine accepted.
            let use = daemon.driver.capabilities.programsHardware ? daemon.engine.occupancy() : daemon.driver.counters().tables
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
            return out
        case "traps":
            return daemon.driver.counters().traps.sorted { $0.key.rawValue < $1.key.rawValue }.map { reason, t in
                .object([("trap", .string(reason.rawValue)), ("packets", .int(Int64(t.packets))), ("policer_drops", .int(Int64(t.policerDrops)))])
            }
        case "fdb":
            return daemon.engine.states().filter { Self.kind(of: $0.key) == "fdb" }.map { row($0.key, $0.object, $0.state) }
                + hardwareLearned()
        default:
            return daemon.engine.states().filter { Self.kind(of: $0.key) == kind || (kind == "stp" && Self.kind(of: $0.key) == "ports") }
                .map { row($0.key, $0.object, $0.state, stp: kind == "stp") }
        }
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
                                ("flags", .array(e.flags.names.map { .string($0) }))])
            }
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
        // iproute2's flags for the same state: `ip -j route` (`offload`, `trap`,
        // `offload_failed`: RTM_F_OFFLOAD, RTM_F_TRAP, RTM_F_OFFLOAD_FAILED) and
        // `bridge -j fdb` (`offload`).
        switch (object, state) {
        case (.route, .offloaded): fields.append(("flags", .array([.string("offload")])))
        case (.route, .trapped): fields.append(("flags", .array([.string("trap")])))
        case (.route, .failed): fields.append(("flags", .array([.string("offload_failed")])))
        case (.fdb, .offloaded): fields.append(("flags", .array([.string("offload")])))
        default: break
        }
        return .object(fields)
    }
}

import Offload
import Rendering
import SwitchDriver
import SwitchModel

/// The rows of `hoist show` and `hoist why`, rendered from an engine snapshot: everything a
/// row needs is copied in when it is made on the loop, so a streamed answer can render a
/// million rows on a worker thread while the loop goes on.
struct QueryRows: Sendable {
    let snapshot: OffloadSnapshot
    /// The kernel names of the driver's ports (`swp1` on the emulated chip, `eth0` on a switchdev box).
    let portNames: [PortID: String]
    let programsHardware: Bool
    /// The kernel's view of each port and bond by name (`ip -j link`): what `hoist show
    /// ports` adds to the chip's state.
    var links: [String: PortLink] = [:]
    /// Kernel interface names by index: a bridge's and a router interface's ids are the
    /// index of their netdev (`BridgeID`, `RouterInterfaceID`).
    var deviceNames: [UInt32: String] = [:]
    /// The vxlan device of each VNI (`bridge -j fdb`'s `ifname` for an entry behind it).
    var vxlanDevices: [UInt32: String] = [:]

    /// The kernel name of a netdev by index; `ifN` when the mirror no longer has it.
    func deviceName(_ index: UInt32) -> String { deviceNames[index] ?? "if\(index)" }

    /// A port's kernel link as `ip -j link show` gives it.
    struct PortLink: Sendable {
        var adminUp: Bool
        var carrier: Bool
        var operState: OperState
        var mtu: UInt32
        var master: String?

        /// `ip -j link`'s `flags` that say admin and carrier state: `UP`, `LOWER_UP`, and
        /// `NO-CARRIER` for an up port without carrier.
        var flags: [String] {
            (adminUp ? ["UP"] : []) + (carrier ? ["LOWER_UP"] : adminUp ? ["NO-CARRIER"] : [])
        }
    }

    /// Whether the driver port is a netdev in the kernel (a chip with 64 ports wired to 4
    /// has swp1…swp4): the ports `show counters` and the metrics name.
    func exists(_ port: PortID) -> Bool { links[portName(port)] != nil }

    /// The kernel name of a driver port.
    func portName(_ port: PortID) -> String { portNames[port] ?? port.description }

    /// The rows of the engine's objects of `kind` (`stp`: the ports' STP fields) that
    /// `matching` accepts, in natural order (routes by table, address and length).
    func objects(_ kind: String, matching: (HardwareKey, OffloadState) -> Bool, emit: (JSONValue) -> Bool) {
        let stp = kind == "stp"
        if kind == "routes" {
            // A million routes: bucketed by table and leading address bits, then each
            // bucket sorted when its turn comes, so the first rows leave after two scans
            // and one small sort.
            var buckets = RouteBuckets(snapshot.forEachKey)
            buckets.drain { route in
                let key = HardwareKey.route(vrf: route.vrf, route.prefix)
                guard let object = snapshot.desiredObject(key), let state = snapshot.state(of: key), matching(key, state) else { return true }
                return emit(row(key, object, state))
            }
            return
        }
        var keys: [HardwareKey] = []
        snapshot.forEachKey { key in
            if Self.kind(of: key) == kind || (stp && Self.kind(of: key) == "ports") { keys.append(key) }
        }
        keys.sort(by: Self.naturalOrder)
        for key in keys {
            guard let object = snapshot.desiredObject(key), let state = snapshot.state(of: key), matching(key, state) else { continue }
            if !emit(row(key, object, state, stp: stp)) { return }
        }
    }

    /// Routes by table, then address and length (as `ip route` lists them); other objects by
    /// rank, then name.
    static func naturalOrder(_ a: HardwareKey, _ b: HardwareKey) -> Bool {
        if case .route(let va, let pa) = a, case .route(let vb, let pb) = b { return RouteOrder(vrf: va, prefix: pa) < RouteOrder(vrf: vb, prefix: pb) }
        if a.rank != b.rank { return a.rank < b.rank }
        // MACs by value (hexadecimal is not for `naturalLess`), then VLAN, then bridge.
        if case .fdb(let ba, let va, let ma) = a, case .fdb(let bb, let vb, let mb) = b {
            return (ma.rawValue, va.rawValue, ba.rawValue) < (mb.rawValue, vb.rawValue, bb.rawValue)
        }
        let (da, db) = (a.description, b.description)
        if da != db { return naturalLess(da, db) }
        return tieBreak(a) < tieBreak(b)
    }

    /// Names with numbers in number order: `swp2` before `swp10`, `vlan 9` before `vlan 10`.
    static func naturalLess(_ a: String, _ b: String) -> Bool {
        var x = a.unicodeScalars[...], y = b.unicodeScalars[...]
        while let c = x.first, let d = y.first {
            let isDigit: (Unicode.Scalar) -> Bool = { $0.value >= 48 && $0.value <= 57 }
            if isDigit(c), isDigit(d) {
                let n = x.prefix(while: isDigit), m = y.prefix(while: isDigit)
                x = x.dropFirst(n.count)
                y = y.dropFirst(m.count)
                let (p, q) = (String(n).drop { $0 == "0" }, String(m).drop { $0 == "0" })
                if p.count != q.count { return p.count < q.count }
                if p != q { return p < q }
                continue
            }
            if c != d { return c.value < d.value }
            x = x.dropFirst()
            y = y.dropFirst()
        }
        return x.isEmpty && !y.isEmpty
    }

    /// What tells apart objects of one name: the bridge (or port, for a port's own entry)
    /// of two FDB or MDB entries for the same address.
    static func tieBreak(_ key: HardwareKey) -> UInt32 {
        switch key {
        case .fdb(let b, _, _), .mdb(let b, _, _): b.rawValue
        case .neighbor(let rif, _): rif.rawValue
        default: 0
        }
    }

    /// Objects per `[kind, state]` in `snapshot` (`hoist show summary`, `hoist_objects`).
    static func stateCounts(_ snapshot: OffloadSnapshot) -> [[String]: Int] {
        var counts: [[String]: Int] = [:]
        snapshot.forEachKey { key in
            guard let state = snapshot.state(of: key) else { return }
            counts[[kind(of: key), state.name], default: 0] += 1
        }
        return counts
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
        case .lag: "lags"
        case .acl: "acl"
        }
    }

    /// One object: its name, offload state and reason, and the fields iproute2 would show.
    func row(_ key: HardwareKey, _ object: HardwareObject, _ state: OffloadState, stp: Bool = false) -> JSONValue {
        var fields: [(String, JSONValue)] = [("object", .string(displayName(key)))]
        switch object {
        case .port(let p):
            fields.append(("ifname", .string(portName(p.port))))
            if !stp, let link = links[portName(p.port)] {
                fields += [("flags", .array(link.flags.map { .string($0) })), ("mtu", .int(Int64(link.mtu))),
                           ("operstate", .string(link.operState.description))]
                if let master = link.master { fields.append(("master", .string(master))) }
            }
            fields.append(("state", .string(p.stpState.description)))
            if !stp {
                fields += [("learning", .bool(p.learning)), ("flood", .bool(p.unicastFlood)), ("mcast_flood", .bool(p.multicastFlood)),
                           ("bcast_flood", .bool(p.broadcastFlood)), ("isolated", .bool(p.isolated))]
                if p.locked { fields += [("locked", .bool(true)), ("mab", .bool(p.mab))] }
            }
        case .fdb(let f):
            fields += fdbFields(f)
        case .vlanMember(let m):
            var flags: [JSONValue] = []
            if m.pvid { flags.append(.string("PVID")) }
            if m.untagged { flags.append(.string("Egress Untagged")) }
            fields += [("ifname", .string(portName(m.port))), ("vlan", .int(Int64(m.vid.rawValue))), ("flags", .array(flags))]
        case .route(let r):
            fields += routeFields(r)
        case .neighbor(let n):
            fields += [("dst", .string(n.address.description)), ("dev", .string(deviceName(n.rif.rawValue))), ("lladdr", .string(n.mac.description))]
        case .nexthop(let nh):
            fields += nexthopFields(nh)
        case .nexthopGroup(let g):
            fields += groupFields(g)
        case .routerInterface(let rif):
            fields += rifFields(rif)
        case .bridge(let b):
            // `ip -j -d link show type bridge`'s `info_data`: ageing_time in centiseconds.
            fields += [("ifname", .string(deviceName(b.bridge.rawValue))), ("vlan_filtering", .int(b.vlanFiltering ? 1 : 0)),
                       ("vlan_protocol", .string(b.vlanProtocol == 0x88a8 ? "802.1ad" : "802.1Q")),
                       ("ageing_time", .int(Int64(b.ageingTime) * 100)), ("mcast_snooping", .int(b.multicastSnooping ? 1 : 0))]
        case .mdb(let m):
            // `bridge -j mdb`: the bridge (`dev`), the group (`grp`), its VLAN (`vid`); the ports in one list.
            fields += [("dev", .string(deviceName(m.bridge.rawValue))), ("grp", .string(m.group.description))]
            if m.vid != .none { fields.append(("vid", .int(Int64(m.vid.rawValue)))) }
            fields.append(("ports", .array(m.ports.map { .string(portName($0)) })))
        case .vxlanTunnel(let t):
            fields.append(("vni", .int(Int64(t.vni))))
            if let dev = vxlanDevices[t.vni] { fields.append(("ifname", .string(dev))) }
            fields += [("master", .string(deviceName(t.bridge.rawValue))), ("local", .string(t.local.description)), ("port", .int(Int64(t.udpPort)))]
            if t.vid != .none { fields.append(("vlan", .int(Int64(t.vid.rawValue)))) }
        case .vxlanFlood(let f):
            fields += [("vni", .int(Int64(f.vni))), ("dst", .string(f.remote.description))]
        case .vf(let v):
            fields += vfFields(v)
        case .lag(let l):
            // `ip -d link show BOND` / `/proc/net/bonding`: the bond, its slaves, the ones it
            // sends through, its hash.
            fields += [("ifname", .string(portName(l.id))), ("slaves", .array(l.members.map { .string(portName($0)) })),
                       ("distributing", .array(l.distributing.map { .string(portName($0)) })),
                       ("collecting", .array(l.collecting.map { .string(portName($0)) })),
                       ("xmit_hash_policy", .string(l.hash.description))]
        case .acl(let a):
            fields += [("ifname", .string(portName(a.port))), ("rules", .int(Int64(a.rules.count)))]
        }
        fields.append(("offload", .string(state.name)))
        if let reason = state.reason { fields.append(("reason", .string(named(reason)))) }
        // What the state rests on, for objects the driver holds: `confirmed` false when
        // the driver only accepted it (an observer, for kinds the kernel never flags);
        // `evidence` from an observer (the kernel's flag, or why there is none). A driver
        // that programs the chip confirms by holding the object.
        let evidence = snapshot.evidence(of: key)
        if let evidence {
            fields.append(("confirmed", .bool(evidence.confirmed)))
            if !programsHardware { fields.append(("evidence", .string(evidence.detail))) }
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

    /// MACs the chip learned itself, as the daemon holds them (its learned, moved and aged
    /// events, re-read after a loss): in the chip, so `offloaded`, confirmed (the chip
    /// reported them); written to the kernel as `extern_learn` (the flags iproute2 shows for
    /// a switchdev-learned entry).
    func chipLearned(_ learned: [HardwareKey: HardwareFDBEntry]) -> [JSONValue] {
        learned.values
            .sorted { ($0.bridge.rawValue, $0.vid.rawValue, $0.mac) < ($1.bridge.rawValue, $1.vid.rawValue, $1.mac) }
            .map { f in
                let fields = fdbFields(f)
                let dev = fields.first { $0.0 == "ifname" }.map { if case .string(let s) = $0.1 { s } else { "" } } ?? ""
                return .object([("object", .string("fdb \(f.mac) vlan \(f.vid.rawValue) \(dev) learned"))] + fields
                               + [("learned", .bool(true)), ("offload", .string("offloaded")), ("confirmed", .bool(true)),
                                  ("flags", .array([.string("extern_learn"), .string("offload")]))])
            }
    }

    /// A VF's row fields for `hoist show vfs`, in the words of `ip -j link show PF`'s
    /// `vfinfo_list` (flattened): the PF's interface, VF number, MAC, VLAN, QoS, protocol,
    /// spoof check, trust, link state, and the rates in Mbit/s.
    func vfFields(_ v: VFSettings) -> [(String, JSONValue)] {
        let i = v.info
        return [("ifname", .string(portName(v.pf))), ("vf", .int(Int64(i.index))), ("address", .string(i.mac.description)),
                ("vlan", .int(Int64(i.vlan))), ("qos", .int(Int64(i.qos))),
                ("protocol", .string(i.vlanProtocol == 0x88a8 ? "802.1ad" : "802.1Q")),
                ("spoofchk", .bool(i.spoofCheck)), ("trust", .bool(i.trust)), ("link_state", .string(i.linkState.description)),
                ("min_tx_rate", .int(Int64(i.minTxRate))), ("max_tx_rate", .int(Int64(i.maxTxRate)))]
    }
}

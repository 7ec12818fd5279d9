import Rendering
import SwitchDriver
import SwitchModel

/// The fields of `hoist show` rows in iproute2's words: `ip -j route` (`dst`, `gateway`,
/// `dev`, `nhid`, `nexthops`, `table`, `type`), `ip -j nexthop`, `bridge -j fdb`
/// (`mac`, `vlan`, `ifname`, `master`, and for an entry behind a vxlan device `dst`,
/// `vni`), with kernel interface names where the hardware holds indexes.
extension QueryRows {
    /// `bridge -j fdb`: the port (or the vxlan device, or the bridge itself for an entry
    /// to the CPU) as `ifname`, the bridge as `master`; behind a tunnel the remote VTEP as
    /// `dst` and the `vni`.
    func fdbFields(_ f: HardwareFDBEntry) -> [(String, JSONValue)] {
        var fields: [(String, JSONValue)] = [("mac", .string(f.mac.description)), ("vlan", .int(Int64(f.vid.rawValue)))]
        let bridge = deviceName(f.bridge.rawValue)
        switch f.destination {
        case .port(let p):
            fields.append(("ifname", .string(portName(p))))
            // A port's own entry (`bridge fdb add … self`) has no bridge: its "bridge" is the port.
            if bridge != portName(p) { fields.append(("master", .string(bridge))) }
        case .tunnel(let vni, let remote):
            fields += [("ifname", .string(vxlanDevices[vni] ?? "vxlan")), ("master", .string(bridge)),
                       ("dst", .string(remote.description)), ("vni", .int(Int64(vni)))]
        case .cpu:
            fields += [("ifname", .string(bridge)), ("master", .string(bridge))]
        }
        return fields
    }

    /// `ip -j route`: `dst`, then how the chip forwards it — `gateway` and `dev`, a kernel
    /// nexthop object's `nhid`, an inline multipath's `nexthops`, an attached prefix's
    /// `dev` with `scope` `link`, `type` `blackhole` — and `table` outside main. A route
    /// the chip traps has no forwarding fields: its state and reason say it.
    func routeFields(_ r: HardwareRoute) -> [(String, JSONValue)] {
        var fields: [(String, JSONValue)] = [("dst", .string(r.prefix.description))]
        switch r.action {
        case .nexthop(let nh):
            fields += nexthopFields(nh)
        case .group(let g) where g.rawValue >= NexthopGroupID.synthesizedBase:
            if case .nexthopGroup(let group)? = snapshot.desiredObject(.nexthopGroup(g)) {
                fields.append(("nexthops", .array(group.members.map { .object(nexthopFields($0.nexthop) + [("weight", .int(Int64($0.weight)))]) })))
            }
        case .group(let g):
            fields.append(("nhid", .int(Int64(g.rawValue))))
        case .attached(let rif):
            fields += [("dev", .string(deviceName(rif.rawValue))), ("scope", .string("link"))]
        case .drop:
            fields.append(("type", .string("blackhole")))
        case .trap:
            break
        }
        // `ip -j route show table all` names the table of a route outside main.
        if r.vrf != 254 { fields.append(("table", .string(String(r.vrf)))) }
        return fields
    }

    func nexthopFields(_ nh: HardwareNexthop) -> [(String, JSONValue)] {
        [("gateway", .string(nh.gateway.description)), ("dev", .string(deviceName(nh.rif.rawValue)))]
    }

    /// `ip -j nexthop`: a kernel group's `id`; every group's members with their weights.
    func groupFields(_ g: HardwareNexthopGroup) -> [(String, JSONValue)] {
        var fields: [(String, JSONValue)] = []
        if g.id.rawValue < NexthopGroupID.synthesizedBase { fields.append(("id", .int(Int64(g.id.rawValue)))) }
        fields.append(("nexthops", .array(g.members.map { .object(nexthopFields($0.nexthop) + [("weight", .int(Int64($0.weight)))]) })))
        return fields
    }

    /// A router interface: its netdev (`ifname`), what it is bound to (a port, or a bridge
    /// and VLAN), its MAC, MTU and routing table.
    func rifFields(_ rif: RouterInterface) -> [(String, JSONValue)] {
        var fields: [(String, JSONValue)] = [("ifname", .string(deviceName(rif.id.rawValue)))]
        switch rif.binding {
        case .port(let p):
            fields.append(("port", .string(portName(p))))
        case .bridge(let b, let vid):
            fields.append(("bridge", .string(deviceName(b.rawValue))))
            if vid != .none { fields.append(("vlan", .int(Int64(vid.rawValue)))) }
        }
        fields += [("address", .string(rif.mac.description)), ("mtu", .int(Int64(rif.mtu))),
                   ("table", .string(rif.vrf == 254 ? "main" : String(rif.vrf)))]
        return fields
    }
}

extension QueryRows {
    /// How a row names its object: the key's name with kernel interface names where the
    /// key holds an index — `bridge br0`, `router interface swp3`, `neighbor 10.0.0.7
    /// (br0)`, `vlan 10 on swp1 (br0)`. `hoist why` accepts either form.
    func displayName(_ key: HardwareKey) -> String {
        Self.holdsIndex(key) ? named(key.description) : key.description
    }

    /// Whether the key's name carries an interface index (a bridge's, a router interface's).
    static func holdsIndex(_ key: HardwareKey) -> Bool {
        switch key {
        case .bridge, .routerInterface, .neighbor, .vlanMember: true
        default: false
        }
    }

    /// Whether `wanted` names the object: its row's name, or the key's (with indexes).
    func names(_ key: HardwareKey, _ wanted: String, exactly: Bool) -> Bool {
        let shown = displayName(key)
        let match = exactly ? shown == wanted : shown.contains(wanted)
        guard !match, Self.holdsIndex(key) else { return match }
        return exactly ? key.description == wanted : key.description.contains(wanted)
    }

    /// `text` (an object's name, a reason's chain) with the indexes the hardware ids carry
    /// replaced by the kernel's interface names: `(rif 5)` → `(br0)`, `rif 5` → `dev br0`,
    /// `router interface 5` → `router interface br0`, `bridge 5` → `bridge br0`. Numbers
    /// the mirror has no name for stay.
    func named(_ text: String) -> String {
        guard text.contains("rif ") || text.contains("interface ") || text.contains("bridge ") else { return text }
        var out = text
        out = out.replacing(#/\(rif (\d+)\)/#) { m in UInt32(m.1).flatMap { deviceNames[$0] }.map { "(\($0))" } ?? String(m.0) }
        out = out.replacing(#/\brif (\d+)\b/#) { m in UInt32(m.1).flatMap { deviceNames[$0] }.map { "dev \($0)" } ?? String(m.0) }
        out = out.replacing(#/\b(router interface|bridge) (\d+)\b/#) { m in
            UInt32(m.2).flatMap { deviceNames[$0] }.map { "\(m.1) \($0)" } ?? String(m.0)
        }
        return out
    }
}

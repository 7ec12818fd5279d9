import KernelMirror
import SwitchDriver
import SwitchModel

/// What the kernel says about the hardware, read from kernel objects: pure functions from
/// a mirror of the namespace (and its switchdev ports) to hardware keys, objects and
/// verdicts, in the vocabulary the stages use (bridge and router interface ids are kernel
/// ifindexes, VRF is the kernel table with the local table folded into main).
///
/// Flags → verdicts:
///
/// | kernel object | flag | verdict |
/// |---|---|---|
/// | route (`RTM_NEWROUTE`) | `RTM_F_OFFLOAD` (`offload`) or `RTM_F_TRAP` (`rt_trap`) | `ok`: in hardware, forwarding or trapping |
/// | route | `RTM_F_OFFLOAD_FAILED` (`rt_offload_failed`) | `hardwareFailure("rt_offload_failed")`, or `tableFull` when the route's devlink resource is at its size |
/// | route | none | no verdict yet (the driver has not acted) |
/// | bridge FDB (`RTM_NEWNEIGH`, AF_BRIDGE) on a switchdev port | `NTF_OFFLOADED` (`offload`) | `ok` |
/// | neighbour (`RTM_NEWNEIGH`, AF_INET/6) | `NTF_OFFLOADED` | `ok` |
public enum SwitchdevView {
    /// `NTF_OFFLOADED` in `ndm_flags`.
    static let neighborOffloaded: UInt8 = 0x20

    // MARK: Verdicts

    /// The hardware's verdict on a route from its flags; nil while it has given none.
    /// `full` is the occupancy of the route's table when its devlink resource is at its
    /// size: a failure then reads as `tableFull`.
    public static func verdict(routeFlags flags: UInt32, full: (table: TableKind, occupancy: TableOccupancy)? = nil) -> DriverResult? {
        if flags & Route.flagOffloadFailed != 0 {
            if let full { return .tableFull(full.table, used: full.occupancy.used, capacity: full.occupancy.capacity) }
            return .hardwareFailure("rt_offload_failed")
        }
        if flags & (Route.flagOffload | Route.flagTrap) != 0 { return .ok }
        return nil
    }

    /// The hardware's verdict on a bridge FDB entry: `ok` once the device flagged it
    /// `offload`; nil before (switchdev drivers report only success for FDB entries).
    public static func verdict(fdbFlags flags: FDBFlags) -> DriverResult? { flags.contains(.offload) ? .ok : nil }

    // MARK: Keys

    /// The slot (VRF, prefix) the stages give a kernel route, or nil for routes they never
    /// program (route-cache clones, multicast, IPv6 link-local and multicast prefixes).
    public static func key(of r: Route) -> HardwareKey? {
        guard r.flags & 0x200 == 0 else { return nil }  // RTM_F_CLONED
        let p = r.key.destination
        if p.family == .ipv6 {
            if p.length >= 8, p.address.high >> 56 == 0xFF { return nil }
            if p.length == 64, p.address == IPAddress(high: 0xFE80_0000_0000_0000, low: 0) { return nil }
        }
        switch r.type {
        case .unicast, .blackhole, .unreachable, .prohibit, .throw:
            return .route(vrf: r.key.table.rawValue, p)
        case .local, .broadcast, .anycast:
            return .route(vrf: r.key.table == .local ? RouteTable.main.rawValue : r.key.table.rawValue, p)
        default:
            return nil
        }
    }

    /// The key of a bridge FDB entry on a switchdev port (bridge = its master's ifindex).
    public static func key(of e: FDBEntry, ports: SwitchdevPorts, links: [IfIndex: Link]) -> HardwareKey? {
        guard !e.key.isSelf, ports.port(of: e.key.port, in: links) != nil,
              let bridge = e.master ?? links[e.key.port]?.master, links[bridge]?.kind == .bridge else { return nil }
        return .fdb(BridgeID(rawValue: bridge.rawValue), e.key.vlan, e.key.mac)
    }

    /// The devlink-backed table a route occupies.
    public static func table(of r: Route) -> TableKind { r.key.family == .ipv4 ? .lpmIPv4 : .lpmIPv6 }

    // MARK: Read-back

    /// What the kernel shows as in the hardware, as hardware objects:
    /// - a port object per switchdev port (the ASIC port exists): admin state, MTU, and in a
    ///   bridge its `IFLA_BRPORT_*` attributes (STP state, learning, flooding, isolation);
    ///   a standalone port does not learn, as the stages map it;
    /// - a bridge object per bridge with a switchdev port (`IFLA_BR_*`);
    /// - the VLANs of switchdev ports in VLAN-filtering bridges (the kernel adds a VLAN
    ///   only once the switchdev driver accepted it);
    /// - FDB entries on switchdev ports flagged `offload` that the control plane
    ///   programmed (static or kernel-learned; `extern_learn` ones are the hardware's
    ///   own learning, reported by the kernel, not read back — as for every driver);
    /// - neighbours flagged `offload`;
    /// - routes flagged `offload` or `rt_trap`, through a gateway, a nexthop object, a
    ///   directly attached interface, or local/blackhole. Multipath routes without a
    ///   nexthop object are left out: the stages number their groups themselves.
    ///
    /// Router interfaces and nexthops have no kernel flag; they are not read back.
    public static func readBack(_ tables: MirrorTables, ports: SwitchdevPorts, features: DriverCapabilities.Features) -> [HardwareObject] {
        var out: [HardwareObject] = []
        var bridges: Set<IfIndex> = []
        for link in tables.links.values.sorted(by: { $0.index < $1.index }) {
            guard let id = ports.port(of: link) else { continue }
            var settings = PortSettings(port: id, adminUp: link.adminUp, mtu: link.mtu, learning: false)
            if let m = link.master, tables.links[m]?.kind == .bridge {
                bridges.insert(m)
                let a = link.bridgePort ?? BridgePortAttributes()
                settings.bridge = BridgeID(rawValue: m.rawValue)
                settings.stpState = a.state
                settings.learning = a.learning && features.contains(.learning)
                settings.unicastFlood = a.unicastFlood
                settings.multicastFlood = a.multicastFlood
                settings.broadcastFlood = a.broadcastFlood
                settings.multicastRouter = a.multicastRouter == 2
                settings.isolated = a.isolated
            }
            out.append(.port(settings))
        }
        for b in bridges.sorted() {
            let a = tables.links[b]?.bridge ?? BridgeAttributes()
            out.append(.bridge(BridgeSettings(
                bridge: BridgeID(rawValue: b.rawValue), vlanFiltering: a.vlanFiltering ?? false,
                vlanProtocol: a.vlanProtocol ?? 0x8100, ageingTime: a.ageingTime / 100,
                multicastSnooping: (a.multicastSnooping ?? true) && features.contains(.multicastSnooping))))
        }
        for v in tables.vlans.values.sorted(by: { ($0.port, $0.vlan.vid) < ($1.port, $1.vlan.vid) }) {
            guard let p = ports.port(of: v.port, in: tables.links), let m = tables.links[v.port]?.master,
                  tables.links[m]?.bridge?.vlanFiltering == true else { continue }
            out.append(.vlanMember(VLANMember(bridge: BridgeID(rawValue: m.rawValue), port: p, vid: v.vlan.vid,
                                              untagged: v.vlan.untagged, pvid: v.vlan.pvid)))
        }
        for e in tables.fdb.values.sorted(by: { $0.key < $1.key }) {
            guard e.flags.contains(.offload), !e.flags.contains(.externLearn), let p = ports.port(of: e.key.port, in: tables.links),
                  case .fdb(let bridge, let vid, let mac)? = key(of: e, ports: ports, links: tables.links) else { continue }
            let destination: FDBDestination = e.state == .permanent ? .cpu : .port(p)
            out.append(.fdb(HardwareFDBEntry(bridge: bridge, vid: vid, mac: mac, destination: destination,
                                             isStatic: e.state == .static || e.state == .permanent)))
        }
        for n in tables.neighbors.values.sorted(by: { $0.key < $1.key }) {
            guard n.flags & neighborOffloaded != 0, let mac = n.lladdr else { continue }
            out.append(.neighbor(HardwareNeighbor(rif: RouterInterfaceID(rawValue: n.key.interface.rawValue),
                                                  address: n.key.address, mac: mac)))
        }
        var routes: [HardwareKey: HardwareObject] = [:]
        tables.routes.forEach { r in
            guard verdict(routeFlags: r.flags) == .ok, case .route(let vrf, let prefix)? = key(of: r),
                  let action = action(of: r) else { return }
            let object = HardwareObject.route(HardwareRoute(vrf: vrf, prefix: prefix, action: action))
            // Local-table addresses win their slot, as in the stages.
            if routes[object.key] == nil || r.key.table == .local { routes[object.key] = object }
        }
        out += routes.values.sorted { $0.key.description < $1.key.description }
        return out
    }

    /// A kernel route's action as the stages map it; nil for multipath without an object.
    static func action(of r: Route) -> RouteAction? {
        switch r.type {
        case .local, .broadcast, .anycast: return .trap(.localAddress)
        case .blackhole: return .drop
        case .unicast: break
        default: return .trap(.routeTrap)
        }
        if let id = r.nexthopID { return .group(NexthopGroupID(rawValue: id)) }
        guard r.nexthops.count == 1, let oif = r.nexthops[0].interface else { return nil }
        let rif = RouterInterfaceID(rawValue: oif.rawValue)
        guard let gateway = r.nexthops[0].gateway else { return .attached(rif) }
        return .nexthop(HardwareNexthop(rif: rif, gateway: gateway))
    }
}

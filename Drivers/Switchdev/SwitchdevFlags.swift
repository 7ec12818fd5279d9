import SwitchDriver
import SwitchModel

/// What the kernel's flags say about the hardware: pure functions from a kernel object's
/// flags to the `HardwareReport` the Switchdev driver gives the engine for the hardware
/// object the stages made of it (related through the shared kernel identity in
/// `SwitchDriver`, `HardwareKey.route(of:)` and friends — no mapping of its own).
///
/// | kernel object | flag (iproute2) | report → offload state |
/// |---|---|---|
/// | route (`RTM_NEWROUTE`) | `RTM_F_OFFLOAD` (`offload`) | `offloaded`, confirmed |
/// | route | `RTM_F_TRAP` (`rt_trap`) | `trapped`: the kernel's driver traps this route to the CPU |
/// | route | `RTM_F_OFFLOAD_FAILED` (`rt_offload_failed`) | `failed`: `hardwareFailure("rt_offload_failed")`, or `tableFull` when the route's devlink resource is at its size |
/// | route, FDB entry to a port, nexthop object | none yet | `pending`: waiting for the kernel's flag |
/// | bridge FDB entry (AF_BRIDGE `RTM_NEWNEIGH`) | `NTF_OFFLOADED` (`offload`) | `offloaded`, confirmed |
/// | neighbour (AF_INET/6 `RTM_NEWNEIGH`) | `NTF_OFFLOADED` | `offloaded`, confirmed; without it `offloaded`, unconfirmed (only some drivers flag neighbours) |
/// | nexthop object (`RTM_NEWNEXTHOP`) | `RTNH_F_OFFLOAD` / `RTNH_F_TRAP` | `offloaded`, confirmed / `trapped` |
/// | port, bridge, VLAN, router interface, route nexthop, inline ECMP group, local FDB entry, MDB | never flagged | `offloaded`, unconfirmed: accepted only |
public enum SwitchdevFlags {
    /// `NTF_OFFLOADED` in a neighbour's `ndm_flags`.
    public static let neighborOffloaded: UInt8 = 0x20
    /// `RTNH_F_OFFLOAD` in a nexthop object's `nh_flags`.
    public static let nexthopOffload: UInt32 = 0x08
    /// `RTNH_F_TRAP` in a nexthop object's `nh_flags`.
    public static let nexthopTrap: UInt32 = 0x40

    /// The reason of a route the kernel flags `rt_trap`.
    public static let routeTrapReason = "the kernel's driver traps this route to the CPU (rt_trap)"

    // MARK: Flags → reports

    /// The report of a route's flags; nil while it carries none (the kernel's driver has
    /// not acted). `full` is the occupancy of the route's table when its devlink resource
    /// is at its size: a failure then reads as `tableFull`.
    public static func report(routeFlags flags: UInt32, full: (table: TableKind, occupancy: TableOccupancy)? = nil) -> HardwareReport? {
        if flags & Route.flagOffloadFailed != 0 {
            let evidence = "kernel flag rt_offload_failed"
            if let full { return .failed(.tableFull(full.table, used: full.occupancy.used, capacity: full.occupancy.capacity), evidence: evidence) }
            return .failed(.hardwareFailure("rt_offload_failed"), evidence: evidence)
        }
        if flags & Route.flagOffload != 0 { return .offloaded(evidence: "kernel flag offload") }
        if flags & Route.flagTrap != 0 { return .trapped(reason: routeTrapReason, evidence: "kernel flag rt_trap") }
        return nil
    }

    /// The report of a bridge FDB entry: offloaded once the device flagged it `offload`;
    /// nil before (switchdev drivers report only success for FDB entries).
    public static func report(fdbFlags flags: FDBFlags) -> HardwareReport? {
        flags.contains(.offload) ? .offloaded(evidence: "kernel flag offload") : nil
    }

    /// The report of a neighbour: offloaded when flagged `NTF_OFFLOADED`; nil otherwise.
    public static func report(neighborFlags flags: UInt8) -> HardwareReport? {
        flags & neighborOffloaded != 0 ? .offloaded(evidence: "kernel flag offload") : nil
    }

    /// The report of a nexthop object: `RTNH_F_OFFLOAD` offloaded, `RTNH_F_TRAP` trapped; nil otherwise.
    public static func report(nexthopObject o: NexthopObject) -> HardwareReport? {
        if o.flags & nexthopOffload != 0 { return .offloaded(evidence: "kernel flag offload") }
        if o.flags & nexthopTrap != 0 {
            return .trapped(reason: "the kernel's driver traps traffic through nexthop \(o.id) to the CPU (trap)", evidence: "kernel flag trap")
        }
        return nil
    }

    // MARK: Accepted, not flagged

    /// What the driver reports for an object it accepted whose kernel counterpart carries
    /// no flag: `awaiting` for the kinds the kernel's switchdev drivers flag (routes, FDB
    /// entries to a port, kernel nexthop objects), `unconfirmed` with the reason for the
    /// kinds the kernel never flags.
    public static func unflagged(_ object: HardwareObject, kernelNexthopObject: Bool) -> HardwareReport {
        func never(_ kinds: String) -> HardwareReport {
            .unconfirmed("accepted by the switchdev driver; the kernel reports no offload flag for \(kinds)")
        }
        switch object {
        case .route(let r):
            let family = r.prefix.family == .ipv4 ? "ipv4" : "ipv6"
            return .awaiting("accepted by the switchdev driver; waiting for the kernel's flag on the route (offload, rt_trap or rt_offload_failed; needs net.\(family).fib_notify_on_flag_change=1)")
        case .fdb(let f):
            if case .port = f.destination {
                return .awaiting("accepted by the switchdev driver; waiting for the kernel's offload flag on the entry (drivers offload entries added with bridge fdb add)")
            }
            return never("local FDB entries")
        case .nexthopGroup(let g):
            if kernelNexthopObject {
                return .awaiting("accepted by the switchdev driver; waiting for the kernel's flag on nexthop \(g.id.rawValue) (offload or trap)")
            }
            return never("the groups of inline multipath routes (their routes carry the flags)")
        case .neighbor:
            return .unconfirmed("accepted by the switchdev driver; the kernel's driver set no offload flag on this neighbour (NTF_OFFLOADED; not every driver does)")
        case .port: return never("ports")
        case .acl: return never("ACLs")
        case .bridge: return never("bridges")
        case .vlanMember: return never("VLANs")
        case .routerInterface: return never("router interfaces")
        case .nexthop: return never("the nexthops of routes")
        case .mdb: return never("multicast groups")
        case .vxlanTunnel, .vxlanFlood: return never("VXLAN")
        case .vf: return never("VFs")
        case .lag: return never("LAGs")
        }
    }
}

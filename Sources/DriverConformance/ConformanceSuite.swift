import SwitchDriver
import SwitchModel

/// One check every `SwitchDriver` must pass. `run` gets a fresh driver and returns the
/// failures it found (empty when the driver conforms).
public struct ConformanceCase: CustomStringConvertible, Sendable {
    /// Which drivers a case applies to.
    public enum Scope: Sendable {
        /// Every driver.
        case every
        /// Drivers that program the hardware (`DriverCapabilities.programsHardware`): the
        /// case checks that the hardware holds what was applied, or that `apply` itself
        /// enforces dependencies and capacity. An observer (the Switchdev driver), whose
        /// hardware the kernel's driver programs from kernel objects, cannot.
        case programming
        /// Drivers with `.sriov` (VF objects): the case programs and reads back VFs.
        case sriov
    }

    /// How one case went on one driver.
    public enum Outcome: Hashable, Sendable {
        case passed
        case failed([String])
        /// The case does not apply to the driver, or the driver lacks what it needs; why.
        case skipped(String)
    }

    public let name: String
    public let scope: Scope
    let body: @Sendable (any SwitchDriver, inout ConformanceLog) -> Void

    public init(_ name: String, scope: Scope = .every, _ body: @escaping @Sendable (any SwitchDriver, inout ConformanceLog) -> Void) {
        self.name = name
        self.scope = scope
        self.body = body
    }

    /// Why the case does not apply to a driver with `capabilities`; nil when it does.
    public func skipReason(for capabilities: DriverCapabilities) -> String? {
        switch scope {
        case .every: nil
        case .programming where !capabilities.programsHardware:
            "\(capabilities.name) does not program hardware (an observer: the kernel's driver programs it from kernel objects), and this case checks programming"
        case .programming where capabilities.maxBridges == 0:
            "\(capabilities.name) has no bridges or routes (an SR-IOV NIC), and this case programs a bridge and a route"
        case .programming: nil
        case .sriov where !capabilities.features.contains(.sriov): "\(capabilities.name) has no SR-IOV VFs"
        case .sriov: nil
        }
    }

    /// Runs the case unless it does not apply; a driver that lacks what the case needs
    /// (a table of a testable size) skips it too, saying why.
    public func outcome(on driver: any SwitchDriver) -> Outcome {
        if let why = skipReason(for: driver.capabilities) { return .skipped(why) }
        var log = ConformanceLog()
        body(driver, &log)
        if !log.failures.isEmpty { return .failed(log.failures) }
        if let why = log.skipped { return .skipped(why) }
        return .passed
    }

    /// The failures of the case on `driver` (none when it passes or does not apply).
    public func run(on driver: any SwitchDriver) -> [String] {
        if case .failed(let failures) = outcome(on: driver) { return failures }
        return []
    }

    public var description: String { name }
}

/// Collects a case's failures and skips.
public struct ConformanceLog {
    public var failures: [String] = []
    public var skipped: String?

    mutating func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { failures.append(message()) }
    }

    /// Applies `ops`, expecting every one to succeed.
    mutating func applyOK(_ driver: any SwitchDriver, _ ops: [DriverOperation], _ what: String) {
        let results = driver.apply(ops)
        expect(results.count == ops.count, "\(what): \(results.count) results for \(ops.count) operations")
        for (op, r) in zip(ops, results) where r != .ok { failures.append("\(what): \(op) → \(r)") }
    }
}

/// The driver conformance suite: one body of checks run against every backend
/// (EmulatedASIC always; Switchdev and SRIOV where a kernel that has them is available).
/// A driver that lacks a feature the case needs passes it vacuously; the case says so.
public enum ConformanceSuite {
    /// A small L2 + L3 topology built from the driver's first ports.
    public struct Topology: Sendable {
        public let bridge: BridgeID = 100
        public let bridgePorts: [PortID]
        public let routedPort: PortID
        public let rif: RouterInterface
        public let neighbor: HardwareNeighbor
        public let nexthop: HardwareNexthop
        public let group: HardwareNexthopGroup
        public let route: HardwareRoute

        public init(_ caps: DriverCapabilities) {
            let ids = caps.ports.map(\.id)
            bridgePorts = Array(ids.prefix(2))
            routedPort = ids.count > 2 ? ids[2] : ids[ids.count - 1]
            rif = RouterInterface(id: 500, binding: .port(routedPort), mac: MACAddress("02:00:00:00:05:00")!)
            neighbor = HardwareNeighbor(rif: 500, address: IPAddress("10.0.0.7")!, mac: MACAddress("02:00:00:00:00:07")!)
            nexthop = HardwareNexthop(rif: 500, gateway: IPAddress("10.0.0.7")!)
            group = HardwareNexthopGroup(id: 42, members: [.init(nexthop: nexthop, weight: 1)])
            route = HardwareRoute(prefix: IPPrefix("10.9.0.0/16")!, action: .nexthop(nexthop))
        }

        /// Objects in dependency order.
        public var objects: [HardwareObject] {
            [.bridge(BridgeSettings(bridge: bridge))]
                + bridgePorts.map { .port(PortSettings(port: $0, bridge: bridge)) }
                + [.port(PortSettings(port: routedPort)),
                   .fdb(HardwareFDBEntry(bridge: bridge, mac: MACAddress("02:00:00:00:00:aa")!, destination: .port(bridgePorts[0]))),
                   .routerInterface(rif), .neighbor(neighbor), .nexthop(nexthop), .nexthopGroup(group), .route(route)]
        }
    }

    public static let cases: [ConformanceCase] = [
        ConformanceCase("capabilities are coherent") { d, log in
            let caps = d.capabilities
            log.expect(!caps.ports.isEmpty, "no ports")
            log.expect(Set(caps.ports.map(\.id)).count == caps.ports.count, "duplicate port ids")
            log.expect(Set(caps.ports.map(\.name)).count == caps.ports.count, "duplicate port names")
            log.expect(caps.tables.values.allSatisfy { $0 >= 0 }, "negative capacity")
            log.expect(caps.maxECMPWidth >= 1 || !caps.features.contains(.ecmp), "ECMP without width")
        },
        ConformanceCase("one result per operation, in order", scope: .programming) { d, log in
            let t = Topology(d.capabilities)
            let ops: [DriverOperation] = [.set(t.objects[0]), .set(.route(t.route)), .remove(.bridge(999))]
            let r = d.apply(ops)
            log.expect(r.count == 3, "\(r.count) results for 3 operations")
            guard r.count == 3 else { return }
            log.expect(r[0] == .ok, "bridge: \(r[0])")
            log.expect(r[1] == .dependencyMissing(.nexthop(t.nexthop)), "route before its nexthop: \(r[1]), expected dependency missing")
            log.expect(r[2] == .ok, "removing an absent object: \(r[2])")
        },
        ConformanceCase("programmed objects read back exactly", scope: .programming) { d, log in
            let t = Topology(d.capabilities)
            log.applyOK(d, t.objects.map { .set($0) }, "program")
            let back = Set(d.readBack())
            for o in t.objects { log.expect(back.contains(o), "not read back: \(o)") }
        },
        ConformanceCase("set is idempotent and replaces", scope: .programming) { d, log in
            let t = Topology(d.capabilities)
            log.applyOK(d, t.objects.map { .set($0) }, "program")
            log.applyOK(d, t.objects.map { .set($0) }, "program again")
            var r = t.route
            r.action = .group(t.group.id)
            log.applyOK(d, [.set(.route(r))], "replace route")
            let routes = d.readBack().filter { $0.key == .route(vrf: 254, t.route.prefix) }
            log.expect(routes == [.route(r)], "after replace: \(routes)")
        },
        ConformanceCase("remove in reverse order leaves nothing", scope: .programming) { d, log in
            let t = Topology(d.capabilities)
            log.applyOK(d, t.objects.map { .set($0) }, "program")
            log.applyOK(d, t.objects.reversed().map { .remove($0.key) }, "remove")
            let keys = Set(t.objects.map(\.key))
            let left = d.readBack().filter { keys.contains($0.key) }
            log.expect(left.isEmpty, "left after removal: \(left)")
            log.applyOK(d, [.remove(.route(vrf: 254, t.route.prefix))], "remove absent")
        },
        ConformanceCase("missing dependencies are named", scope: .programming) { d, log in
            let t = Topology(d.capabilities)
            let r = d.apply([
                .set(.fdb(HardwareFDBEntry(bridge: 7, mac: MACAddress("02:00:00:00:00:01")!, destination: .port(t.bridgePorts[0])))),
                .set(.neighbor(t.neighbor)),
                .set(.nexthopGroup(t.group)),
            ])
            log.expect(r == [.dependencyMissing(.bridge(7)), .dependencyMissing(.routerInterface(500)), .dependencyMissing(.nexthop(t.nexthop))],
                       "got \(r)")
        },
        ConformanceCase("objects in use cannot be removed", scope: .programming) { d, log in
            let t = Topology(d.capabilities)
            log.applyOK(d, t.objects.map { .set($0) }, "program")
            let r = d.apply([.remove(.nexthop(t.nexthop)), .remove(.routerInterface(t.rif.id))])
            log.expect(r.allSatisfy { $0 != .ok }, "removed while in use: \(r)")
            log.expect(Set(d.readBack()).isSuperset(of: t.objects), "a refused removal changed hardware")
        },
        ConformanceCase("a batch is not a transaction", scope: .programming) { d, log in
            let t = Topology(d.capabilities)
            let r = d.apply([.set(t.objects[0]), .set(.route(t.route)), .set(.port(PortSettings(port: t.bridgePorts[0], bridge: t.bridge)))])
            log.expect(r.count == 3 && r[0] == .ok && r[1] != .ok && r[2] == .ok, "got \(r)")
            log.expect(d.readBack().contains(.port(PortSettings(port: t.bridgePorts[0], bridge: t.bridge))), "item after a failure not applied")
        },
        ConformanceCase("a full table says so, and recovers", scope: .programming) { d, log in
            let caps = d.capabilities
            let cap = caps.capacity(.nexthops)
            guard cap > 0, cap <= 100_000 else { log.skipped = "nexthop table of \(cap)"; return }
            let t = Topology(caps)
            log.applyOK(d, [.set(.port(PortSettings(port: t.routedPort))), .set(.routerInterface(t.rif))], "rif")
            let hops = (0..<cap).map { HardwareNexthop(rif: 500, gateway: IPAddress(ipv4: 0x0A01_0000 + UInt32($0))) }
            log.applyOK(d, hops.map { .set(.nexthop($0)) }, "fill")
            let extra = HardwareNexthop(rif: 500, gateway: IPAddress("10.2.0.1")!)
            let r = d.apply([.set(.nexthop(extra))])
            log.expect(r == [.tableFull(.nexthops, used: cap, capacity: cap)], "one past capacity: \(r)")
            log.expect(d.counters().tables[.nexthops] == TableOccupancy(used: cap, capacity: cap), "occupancy \(String(describing: d.counters().tables[.nexthops]))")
            log.applyOK(d, [.remove(.nexthop(hops[0])), .set(.nexthop(extra))], "after freeing one")
        },
        ConformanceCase("occupancy follows programming", scope: .programming) { d, log in
            let t = Topology(d.capabilities)
            log.applyOK(d, t.objects.map { .set($0) }, "program")
            let c = d.counters().tables
            log.expect(c[.lpmIPv4]?.used == 1, "lpm used \(String(describing: c[.lpmIPv4]))")
            log.expect(c[.nexthops]?.used == 1, "nexthops used \(String(describing: c[.nexthops]))")
            log.expect(c[.neighbors]?.used == 1, "neighbors used \(String(describing: c[.neighbors]))")
            log.expect(c[.routerInterfaces]?.used == 1, "rifs used \(String(describing: c[.routerInterfaces]))")
        },
        ConformanceCase("an ingress ACL reads back exactly and takes a TCAM entry per rule", scope: .programming) { d, log in
            guard d.capabilities.features.contains(.acl) else { log.skipped = "\(d.capabilities.name) has no ingress ACL"; return }
            let t = Topology(d.capabilities)
            var ssh = FlowMatch()
            (ssh.ethType, ssh.ipProto, ssh.ipProtoMask, ssh.dstPort, ssh.dstPortMask) = (0x0800, 6, 0xFF, 22, 0xFFFF)
            let acl = HardwarePortACL(port: t.bridgePorts[0], rules: [
                ACLRule(priority: 1, handle: 1, etherType: 0x0800, match: ssh, verdict: .drop),
                ACLRule(priority: 2, handle: 1, etherType: 0x0003, match: FlowMatch(), verdict: .pass),
            ])
            let port = PortSettings(port: t.bridgePorts[0], bridge: t.bridge, ingressACL: true)
            log.applyOK(d, [.set(t.objects[0]), .set(.port(port)), .set(.acl(acl))], "program")
            let back = Set(d.readBack())
            log.expect(back.contains(.acl(acl)) && back.contains(.port(port)), "not read back: \(acl), \(port)")
            log.expect(d.counters().tables[.acl]?.used == 2, "acl used \(String(describing: d.counters().tables[.acl]))")
            log.applyOK(d, [.remove(.acl(acl.port))], "remove")
            log.expect(d.counters().tables[.acl]?.used == 0, "acl used after removal \(String(describing: d.counters().tables[.acl]))")
        },
        ConformanceCase("every operation gets one result, in order; removing what is absent succeeds") { d, log in
            guard !d.capabilities.ports.isEmpty else { log.skipped = "the driver has no ports"; return }
            let t = Topology(d.capabilities)
            let ops: [DriverOperation] = t.objects.map { .set($0) } + [.remove(.bridge(999)), .remove(.route(vrf: 254, IPPrefix("192.0.2.0/24")!))]
            let r = d.apply(ops)
            log.expect(r.count == ops.count, "\(r.count) results for \(ops.count) operations")
            log.expect(r.suffix(2) == [.ok, .ok], "removing absent objects: \(Array(r.suffix(2)))")
            log.applyOK(d, t.objects.reversed().map { .remove($0.key) }, "remove")
        },
        ConformanceCase("objects on a port the driver does not have are refused") { d, log in
            let missing = PortID(UInt16(min(Int(PortID.lagBase), (d.capabilities.ports.map { Int($0.id.rawValue) }.max() ?? 0) + 1)))
            guard !d.capabilities.ports.contains(where: { $0.id == missing }) else { log.skipped = "no free port number"; return }
            let r = d.apply([.set(.port(PortSettings(port: missing)))])
            log.expect(r.count == 1 && r[0] != .ok, "setting absent \(missing): \(r)")
        },
        ConformanceCase("a VF set reads back exactly, and is restored", scope: .sriov) { d, log in
            guard case .vf(let original)? = d.readBack().first(where: { $0.key.table == .vfs }) else {
                log.skipped = "no VF to program (no PF with VFs in switchdev mode)"
                return
            }
            var changed = original
            changed.info.mac = MACAddress("02:00:00:00:0c:01")!
            changed.info.vlan = original.info.vlan == 42 ? 43 : 42
            changed.info.trust.toggle()
            changed.info.spoofCheck.toggle()
            changed.info.linkState = original.info.linkState == .disable ? .enable : .disable
            log.applyOK(d, [.set(.vf(changed))], "program")
            log.expect(d.readBack().contains(.vf(changed)), "not read back: \(changed)")
            log.applyOK(d, [.set(.vf(original))], "restore")
            log.expect(d.readBack().contains(.vf(original)), "not restored: \(original)")
        },
        ConformanceCase("a VF of a PF the driver does not have is refused", scope: .sriov) { d, log in
            let missing = PortID(UInt16(min(Int(PortID.lagBase), (d.capabilities.ports.map { Int($0.id.rawValue) }.max() ?? 0) + 1)))
            let r = d.apply([.set(.vf(VFSettings(pf: missing, info: VFInfo(index: 0))))])
            log.expect(r.count == 1 && r[0] != .ok, "setting a VF of absent \(missing): \(r)")
        },
        ConformanceCase("events are bounded by the poll limit") { d, log in
            let e = d.pollEvents(limit: 0)
            log.expect(e.isEmpty, "poll(limit: 0) returned \(e.count) events")
        },
    ]
}

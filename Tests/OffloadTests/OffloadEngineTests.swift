import EmulatedASIC
import Offload
import Stages
import SwitchDriver
import SwitchModel
import Testing

/// A routed port with a neighbour, a nexthop, a group and routes, in desired form.
struct L3Fixture {
    let port = PortSettings(port: 3)
    let rif = RouterInterface(id: 500, binding: .port(3), mac: MACAddress("02:00:00:00:05:00")!)
    let neighbor = HardwareNeighbor(rif: 500, address: IPAddress("10.0.0.7")!, mac: MACAddress("02:00:00:00:00:07")!)
    let nexthop = HardwareNexthop(rif: 500, gateway: IPAddress("10.0.0.7")!)

    func route(_ prefix: String) -> HardwareRoute {
        HardwareRoute(prefix: IPPrefix(prefix)!, action: .nexthop(nexthop))
    }

    var all: [HardwareObject] {
        [.port(port), .routerInterface(rif), .neighbor(neighbor), .nexthop(nexthop), .route(route("10.9.0.0/16"))]
    }

    /// Routed port 1 (rif 501, the same MAC) to send probes in on: a packet routed back out
    /// of its ingress interface traps (`redirect`), as the kernel may send a redirect.
    var ingress: [HardwareObject] {
        [.port(PortSettings(port: 1)), .routerInterface(RouterInterface(id: 501, binding: .port(1), mac: rif.mac))]
    }
}

func sets(_ objects: [HardwareObject]) -> [DesiredChange] { objects.map { .set(DesiredObject($0)) } }

@Suite("Offload engine")
struct OffloadEngineTests {
    let f = L3Fixture()

    @Test("dependency order: everything submitted backwards is offloaded in one run")
    func dependencyOrder() {
        let asic = EmulatedASIC()
        let engine = OffloadEngine(driver: asic)
        engine.submit(sets(f.all.reversed()))
        engine.run()
        for o in f.all { #expect(engine.state(of: o.key) == .offloaded, "\(o.key)") }
        #expect(Set(asic.readBack()) == Set(f.all))
        #expect(engine.audit().isEmpty)
    }

    @Test("a route whose nexthop lacks a router interface is parked on a trap, then offloaded")
    func parking() {
        let asic = EmulatedASIC()
        let engine = OffloadEngine(driver: asic)
        engine.submit(sets([.port(f.port), .nexthop(f.nexthop), .route(f.route("10.9.0.0/16"))]))
        engine.run()
        let key = HardwareKey.route(vrf: 254, IPPrefix("10.9.0.0/16")!)
        #expect(engine.state(of: key) == .trapped(reason: "route 10.9.0.0/16 → nexthop 10.0.0.7 → router interface 500 missing"))
        // Nothing misroutes meanwhile: the chip holds a trap route for the prefix.
        #expect(asic.readBack().contains(.route(HardwareRoute(prefix: IPPrefix("10.9.0.0/16")!, action: .trap(.unresolvedNexthop)))))
        engine.submit(sets([.routerInterface(f.rif), .neighbor(f.neighbor)]))
        engine.run()
        #expect(engine.state(of: key) == .offloaded)
        #expect(asic.readBack().contains(.route(f.route("10.9.0.0/16"))))
        #expect(engine.audit().isEmpty)
    }

    @Test("an unresolved neighbour traps the route and names the chain; resolving offloads it")
    func unresolvedNeighbor() {
        let engine = OffloadEngine(driver: EmulatedASIC())
        engine.submit(sets([.port(f.port), .routerInterface(f.rif), .nexthop(f.nexthop), .route(f.route("10.9.0.0/16"))]))
        engine.run()
        let key = HardwareKey.route(vrf: 254, IPPrefix("10.9.0.0/16")!)
        #expect(engine.state(of: key) == .trapped(reason: "route 10.9.0.0/16 → nexthop 10.0.0.7 → neighbor 10.0.0.7 (rif 500) unresolved"))
        engine.submit(sets([.neighbor(f.neighbor)]))
        engine.run()
        #expect(engine.state(of: key) == .offloaded)
    }

    @Test("a full LPM table fails the overflow with the count, and offloads it once space frees")
    func tableFull() {
        let asic = EmulatedASIC()
        asic.inject(.shrink(.lpmIPv4, capacity: 2))
        let engine = OffloadEngine(driver: asic)
        engine.submit(sets(f.all.dropLast() + ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"].map { .route(f.route($0)) }))
        engine.run()
        let states = ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"].map { engine.state(of: .route(vrf: 254, IPPrefix($0)!))! }
        #expect(states.filter { $0 == .offloaded }.count == 2)
        #expect(states.contains(.failed(reason: "LPM table full 2/2")))
        #expect(engine.occupancy()[.lpmIPv4] == TableOccupancy(used: 2, capacity: 2))
        let failed = ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"].first { engine.state(of: .route(vrf: 254, IPPrefix($0)!)) != .offloaded }!
        let other = ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"].first { $0 != failed }!
        engine.submit([.remove(.route(vrf: 254, IPPrefix(other)!))])
        engine.run()
        #expect(engine.state(of: .route(vrf: 254, IPPrefix(failed)!)) == .offloaded)
    }

    @Test("an injected driver failure is reported as failed with the driver's message")
    func injectedFailure() {
        let asic = EmulatedASIC()
        asic.inject(.failNext(count: 1, table: .nexthops, result: .invalid("injected: nexthop rejected")))
        let engine = OffloadEngine(driver: asic)
        engine.submit(sets(f.all))
        engine.run()
        #expect(engine.state(of: .nexthop(f.nexthop)) == .failed(reason: "invalid: injected: nexthop rejected"))
        let route = engine.state(of: .route(vrf: 254, IPPrefix("10.9.0.0/16")!))
        #expect(route == .trapped(reason: "route 10.9.0.0/16 → nexthop 10.0.0.7: invalid: injected: nexthop rejected"))
    }

    @Test("removing a router interface demotes its routes to traps; bringing it back offloads them")
    func removalCascade() {
        let asic = EmulatedASIC()
        let engine = OffloadEngine(driver: asic)
        engine.submit(sets(f.all))
        engine.run()
        engine.submit([.remove(.routerInterface(500))])
        engine.run()
        let key = HardwareKey.route(vrf: 254, IPPrefix("10.9.0.0/16")!)
        #expect(engine.state(of: key)?.name == "trapped")
        #expect(asic.readBack().contains(.route(HardwareRoute(prefix: IPPrefix("10.9.0.0/16")!, action: .trap(.unresolvedNexthop)))))
        #expect(!asic.readBack().contains { $0.key == .routerInterface(500) })
        engine.submit(sets([.routerInterface(f.rif)]))
        engine.run()
        #expect(engine.state(of: key) == .offloaded)
        #expect(engine.audit().isEmpty)
    }

    @Test("what a stage keeps on the CPU is trapped with its reason and never programmed")
    func cpuOnly() {
        let asic = EmulatedASIC()
        let engine = OffloadEngine(driver: asic)
        let bridge = HardwareObject.bridge(BridgeSettings(bridge: 9, vlanProtocol: 0x88A8))
        engine.submit([.set(DesiredObject(bridge, trapReason: "driver does not support 802.1ad bridges", programmable: false))])
        engine.run()
        #expect(engine.state(of: .bridge(9)) == .trapped(reason: "driver does not support 802.1ad bridges"))
        #expect(asic.readBack().isEmpty)
    }

    @Test("the audit catches a change made behind the engine's back, and repair fixes it")
    func audit() {
        let asic = EmulatedASIC()
        let engine = OffloadEngine(driver: asic)
        engine.submit(sets(f.all))
        engine.run()
        asic.tamper(removing: .route(vrf: 254, IPPrefix("10.9.0.0/16")!))
        let drift = engine.audit()
        #expect(drift == [.missing(.route(f.route("10.9.0.0/16")))])
        engine.repair(drift)
        engine.run()
        #expect(engine.audit().isEmpty)
        #expect(engine.state(of: .route(vrf: 254, IPPrefix("10.9.0.0/16")!)) == .offloaded)
    }

    @Test("a restarted engine reconciles with the chip's read-back and changes only what differs")
    func reconcile() {
        let asic = EmulatedASIC()
        let first = OffloadEngine(driver: asic)
        first.submit(sets(f.all))
        first.run()
        let second = OffloadEngine(driver: asic)
        second.reconcile(with: asic.readBack())
        var desired = f.all
        desired.append(.route(f.route("10.10.0.0/16")))
        second.submit(sets(desired))
        let progress = second.run()
        #expect(progress.programmed == 1)
        #expect(progress.removed == 0)
        #expect(second.audit().isEmpty)
    }

    @Test("vlan_filtering 1 → 0 with the VLAN members going in the same change: the refused bridge change is applied after the removals")
    func vlanFilteringOffWithMembers() {
        let asic = EmulatedASIC()
        let engine = OffloadEngine(driver: asic)
        let bridge: BridgeID = 10
        let aware = BridgeSettings(bridge: bridge, vlanFiltering: true), unaware = BridgeSettings(bridge: bridge)
        let port = PortSettings(port: 1, bridge: bridge)
        let member = VLANMember(bridge: bridge, port: 1, vid: VLANID(rawValue: 10)!, untagged: true, pvid: true)
        engine.submit(sets([.bridge(aware), .port(port), .vlanMember(member)]))
        engine.run()
        #expect(engine.state(of: HardwareObject.vlanMember(member).key) == .offloaded)
        // The kernel's toggle: the bridge changes and its members stop mattering, at once.
        engine.submit(sets([.bridge(unaware)]) + [.remove(HardwareObject.vlanMember(member).key)])
        engine.run()
        #expect(engine.state(of: HardwareObject.bridge(unaware).key) == .offloaded)
        #expect(asic.readBack().contains(.bridge(unaware)) && !asic.readBack().contains(.vlanMember(member)))
        #expect(engine.audit().isEmpty)
    }

    @Test("batches are bounded")
    func batching() {
        let asic = EmulatedASIC()
        let engine = OffloadEngine(driver: asic, configuration: .init(batchSize: 100))
        engine.submit(sets(f.all.dropLast()))
        engine.submit(sets((0..<1000).map { .route(f.route("10.\($0 / 250).\($0 % 250).0/24")) }))
        let progress = engine.run()
        #expect(progress.programmed == 1004)
        #expect(progress.batches >= 10)
        #expect(engine.stateSummary() == ["offloaded": 1004])
    }
}

@Suite("Offload engine: table full at the packet level")
struct TableFullTrafficTests {
    @Test("a route that does not fit is failed, its covering route traps its traffic, and both are offloaded once space frees")
    func coveringRouteTraps() throws {
        let f = L3Fixture()
        let sw = EmbeddedSwitch()
        sw.asic.inject(.shrink(.lpmIPv4, capacity: 2))
        let engine = OffloadEngine(driver: sw.asic)
        let host = HardwareRoute(prefix: IPPrefix("10.0.0.0/24")!, action: .attached(500))
        engine.submit(sets(f.all.dropLast() + f.ingress + [.route(host), .route(f.route("0.0.0.0/0"))]))
        engine.run()
        engine.submit(sets([.route(f.route("10.9.0.0/16"))]))
        engine.run()
        let wide = HardwareKey.route(vrf: 254, IPPrefix("0.0.0.0/0")!)
        let narrow = HardwareKey.route(vrf: 254, IPPrefix("10.9.0.0/16")!)
        #expect(engine.state(of: narrow) == .failed(reason: "LPM table full 2/2"))
        // The default route must not carry 10.9/16's traffic: it traps until 10.9/16 fits.
        #expect(engine.state(of: wide) == .trapped(reason: "route default → route 10.9.0.0/16: LPM table full 2/2"))
        let frame = FrameBuilder.udp(srcMAC: MACAddress("02:00:00:00:00:99")!, dstMAC: f.rif.mac, src: IPAddress("10.0.0.9")!,
                                     dst: IPAddress("10.9.1.1")!, srcPort: 1, dstPort: 2)
        sw.inject(frame, on: 1)
        #expect(sw.drainOutbound().isEmpty)
        #expect(sw.drainTrapReasons() == [.unresolvedNexthop])
        // Space frees: both are offloaded and the chip forwards.
        engine.submit([.remove(host.key)])
        engine.run()
        #expect(engine.state(of: wide) == .offloaded)
        #expect(engine.state(of: narrow) == .offloaded)
        sw.inject(frame, on: 1)
        #expect(sw.drainCounts() == [3: 1])
        _ = sw.readEvents()
        try sw.finish()
    }
}

extension TableFullTrafficTests {
    @Test("a covering route keeps trapping for a failed route when it changes, and a new covering route traps from the start")
    func coverStaysTrapped() throws {
        let f = L3Fixture()
        let sw = EmbeddedSwitch()
        let other = HardwareNexthop(rif: 500, gateway: IPAddress("10.0.0.8")!)
        let engine = OffloadEngine(driver: sw.asic)
        let host = HardwareRoute(prefix: IPPrefix("10.0.0.0/24")!, action: .attached(500))
        engine.submit(sets(f.all.dropLast() + f.ingress + [.neighbor(HardwareNeighbor(rif: 500, address: other.gateway, mac: MACAddress("02:00:00:00:00:08")!)),
                                              .nexthop(other), .route(host), .route(f.route("10.0.0.0/8"))]))
        engine.run()
        // 10.9/16 does not fit (the chip says its LPM is full).
        sw.asic.inject(.failNext(count: 1, table: .lpmIPv4))
        engine.submit(sets([.route(f.route("10.9.0.0/16"))]))
        engine.run()
        let wide = HardwareKey.route(vrf: 254, IPPrefix("10.0.0.0/8")!)
        let narrow = HardwareKey.route(vrf: 254, IPPrefix("10.9.0.0/16")!)
        #expect(engine.state(of: narrow)?.name == "failed")
        #expect(engine.state(of: wide)?.name == "trapped")
        let frame = FrameBuilder.udp(srcMAC: MACAddress("02:00:00:00:00:99")!, dstMAC: f.rif.mac, src: IPAddress("10.0.0.9")!,
                                     dst: IPAddress("10.9.1.1")!, srcPort: 1, dstPort: 2)
        func trappedNotForwarded(_ what: String) {
            sw.inject(frame, on: 1)
            #expect(sw.drainOutbound().isEmpty, "10.9/16's traffic was forwarded by \(what)")
            #expect(sw.drainTrapReasons() == [.unresolvedNexthop])
        }

        // The covering route's next hop changes: it must go on trapping for 10.9/16.
        engine.submit(sets([.route(HardwareRoute(prefix: IPPrefix("10.0.0.0/8")!, action: .nexthop(other)))]))
        engine.run()
        #expect(engine.state(of: wide)?.name == "trapped", "\(String(describing: engine.state(of: wide)))")
        trappedNotForwarded("the changed covering route")

        // A new, wider covering route traps from the start too.
        engine.submit(sets([.route(f.route("0.0.0.0/0"))]))
        engine.run()
        let fresh = HardwareKey.route(vrf: 254, IPPrefix("0.0.0.0/0")!)
        #expect(engine.state(of: narrow)?.name == "failed")
        #expect(engine.state(of: fresh)?.name == "trapped", "\(String(describing: engine.state(of: fresh)))")
        trappedNotForwarded("the new default route")

        // Space frees: everything is offloaded and forwards.
        engine.submit([.remove(host.key)])
        engine.run()
        #expect(engine.state(of: narrow) == .offloaded)
        #expect(engine.state(of: fresh) == .offloaded && engine.state(of: wide) == .offloaded)
        sw.inject(frame, on: 1)
        #expect(sw.drainCounts() == [3: 1])
        _ = sw.readEvents()
        try sw.finish()
    }
}

extension OffloadEngineTests {
    @Test("a verdict the hardware reports later (objectState) fails an accepted object, and a later ok offloads it again; a trap traps it, an awaited verdict is pending")
    func laterVerdict() {
        let engine = OffloadEngine(driver: EmulatedASIC())
        engine.submit(sets(f.all))
        engine.run()
        let key = HardwareObject.route(f.route("10.9.0.0/16")).key
        #expect(engine.state(of: key) == .offloaded)
        #expect(engine.evidence(of: key) == OffloadEvidence(confirmed: true, detail: "programmed by the \(engine.driver.capabilities.name) driver"))
        engine.hardwareReported(key, .failed(.hardwareFailure("rt_offload_failed"), evidence: "kernel flag rt_offload_failed"))
        #expect(engine.state(of: key) == .failed(reason: "hardware failure: rt_offload_failed"))
        engine.hardwareReported(key, .offloaded(evidence: "kernel flag offload"))
        #expect(engine.state(of: key) == .offloaded)
        #expect(engine.evidence(of: key) == OffloadEvidence(confirmed: true, detail: "kernel flag offload"))
        engine.hardwareReported(key, .trapped(reason: "the kernel's driver traps this route to the CPU (rt_trap)", evidence: "kernel flag rt_trap"))
        #expect(engine.state(of: key) == .trapped(reason: "the kernel's driver traps this route to the CPU (rt_trap)"))
        engine.hardwareReported(key, .awaiting("waiting"))
        #expect(engine.state(of: key) == .pending(reason: "waiting"))
        engine.hardwareReported(key, .unconfirmed("accepted only"))
        #expect(engine.state(of: key) == .offloaded)
        #expect(engine.evidence(of: key) == OffloadEvidence(confirmed: false, detail: "accepted only"))
        // About an object the engine never programmed: ignored.
        engine.hardwareReported(.route(vrf: 254, IPPrefix("192.0.2.0/24")!), .failed(.invalid("x"), evidence: "x"))
        #expect(engine.state(of: .route(vrf: 254, IPPrefix("192.0.2.0/24")!)) == nil)
    }
}

extension HardwareRoute {
    var key: HardwareKey { HardwareObject.route(self).key }
}

import EmulatedASIC
import SwitchDriver
import SwitchModel
import Testing

/// VRFs: a router interface names its table; the chip looks up what arrives there in the
/// kernel's rule order (local addresses, the VRF's table, then main), and the tables share
/// the LPM capacity.
@Suite("Emulated chip: VRFs")
struct ChipVRFTests {
    typealias Router = ChipRouterTests

    /// Ports 1…4 routed, ports 2 and 3 moved to table 10.
    static func router(profile: TableProfile = .small) throws -> EmbeddedSwitch {
        let sw = try Router.router(profile: profile)
        for p in UInt16(2)...3 {
            try sw.program([.routerInterface(RouterInterface(id: RouterInterfaceID(rawValue: UInt32(p)), binding: .port(PortID(p)),
                                                             mac: Host.routerMAC, vrf: 10))])
        }
        return sw
    }

    static func toRouter(from port: UInt16, dst: String) -> [UInt8] {
        Frame.udp(from: UInt8(port), to: Host.routerMAC, src: "10.0.\(port).2", dst: dst, srcPort: 1000, ttl: 64)
    }

    @Test("a packet is routed by its ingress interface's table: the same prefix leads elsewhere in main and in the VRF")
    func perTable() throws {
        let sw = try Self.router()
        try sw.program([.route(HardwareRoute(prefix: IPPrefix("172.16.0.0/16")!, action: .nexthop(Router.nh(4)))),
                        .route(HardwareRoute(vrf: 10, prefix: IPPrefix("172.16.0.0/16")!, action: .nexthop(Router.nh(3))))])
        sw.inject(Self.toRouter(from: 2, dst: "172.16.1.1"), on: 2)     // in table 10
        #expect(sw.drainCounts() == [3: 1])
        sw.inject(Self.toRouter(from: 1, dst: "172.16.1.1"), on: 1)     // in main
        #expect(sw.drainCounts() == [4: 1])
        try sw.finish()
    }

    @Test("a miss in the VRF's table falls through to main, as the kernel's rules do; a local address of the local table comes first")
    func ruleOrder() throws {
        let sw = try Self.router()
        try sw.program([.route(HardwareRoute(vrf: 10, prefix: IPPrefix("10.0.1.0/24")!, action: .nexthop(Router.nh(3))))])
        // 10.0.4.2 is in main only (attached to port 4): the VRF's table misses.
        sw.inject(Self.toRouter(from: 2, dst: "10.0.4.2"), on: 2)
        #expect(sw.drainCounts() == [4: 1])
        // 10.0.1.1 is a local address (the local table, rule 0): trapped, even though the
        // VRF's table routes 10.0.1.0/24 elsewhere.
        sw.inject(Self.toRouter(from: 2, dst: "10.0.1.1"), on: 2)
        #expect(sw.drainOutbound().isEmpty)
        #expect(sw.drainTrapReasons() == [.localAddress])
        // Another address of 10.0.1.0/24: the VRF's route.
        sw.inject(Self.toRouter(from: 2, dst: "10.0.1.9"), on: 2)
        #expect(sw.drainCounts() == [3: 1])
        try sw.finish()
    }

    @Test("tables share the LPM capacity; a table beyond the profile's VRFs is refused; read-back names each route's table")
    func capacityAndReadBack() throws {
        var profile = TableProfile.small
        profile.tables[.lpmIPv4] = 20
        profile.tables[.vrfs] = 2
        let sw = try Self.router(profile: profile)
        let asic = sw.asic
        let mainRoutes = asic.counters().tables[.lpmIPv4]?.used ?? 0     // the four ports' routes
        var results: [DriverResult] = []
        for i in 0..<(20 - mainRoutes) {
            results += asic.apply([.set(.route(HardwareRoute(vrf: 10 + UInt32(i % 2), prefix: IPPrefix("172.16.\(i).0/24")!,
                                                              action: .drop)))])
        }
        #expect(results.allSatisfy { $0 == .ok }, "\(results)")
        let full = asic.apply([.set(.route(HardwareRoute(prefix: IPPrefix("192.0.2.0/24")!, action: .drop)))])
        #expect({ if case .tableFull(.lpmIPv4, 20, 20) = full[0] { true } else { false } }(), "\(full)")
        // Room again, but a third VRF is one too many.
        #expect(asic.apply([.remove(.route(vrf: 11, IPPrefix("172.16.1.0/24")!))]) == [.ok])
        let third = asic.apply([.set(.route(HardwareRoute(vrf: 12, prefix: IPPrefix("192.0.2.0/24")!, action: .drop)))])
        #expect({ if case .tableFull(.vrfs, 2, 2) = third[0] { true } else { false } }(), "\(third)")
        let back = asic.readBack()
        #expect(back.contains(.route(HardwareRoute(vrf: 10, prefix: IPPrefix("172.16.0.0/24")!, action: .drop))))
        #expect(back.contains(.route(HardwareRoute(vrf: 11, prefix: IPPrefix("172.16.3.0/24")!, action: .drop))))
        #expect(!back.contains { if case .route(let r) = $0 { r.vrf == 12 } else { false } })
        #expect(asic.counters().tables[.vrfs]?.used == 2)
        try sw.finish()
    }
}

import EmulatedASIC
import Offload
import Stages
import SwitchDriver
import SwitchModel
import Testing

/// An ECMP group with a member whose neighbour is unresolved: the chip traps the flows
/// hashed to that member (the kernel resolves it and forwards them), so the group and
/// every route through it are `trapped`, naming the member — never `offloaded`.
@Suite("Offload engine: ECMP with an unresolved member")
struct ECMPStateTests {
    @Test("group and route are trapped with the same partial reason while a member is unresolved; the chip traps exactly those flows")
    func unresolvedMember() throws {
        let f = L3Fixture()
        let sw = EmbeddedSwitch()
        let engine = OffloadEngine(driver: sw.asic)
        let other = HardwareNexthop(rif: 500, gateway: IPAddress("10.0.0.8")!)
        let id = NexthopGroupID(rawValue: NexthopGroupID.synthesizedBase | 0x1234)
        let group = HardwareNexthopGroup(id: id, members: [.init(nexthop: f.nexthop), .init(nexthop: other)])
        let route = HardwareRoute(prefix: IPPrefix("10.9.0.0/16")!, action: .group(id))
        engine.submit(sets(f.ingress + [.port(f.port), .routerInterface(f.rif), .neighbor(f.neighbor), .nexthop(f.nexthop), .nexthop(other),
                            .nexthopGroup(group), .route(route)]))
        engine.run()
        let chain = "nexthop 10.0.0.8 → neighbor 10.0.0.8 (rif 500) unresolved: flows hashed to it go to the CPU"
        #expect(engine.state(of: .nexthopGroup(id)) == .trapped(reason: "ecmp group #1234 → " + chain))
        #expect(engine.state(of: route.key) == .trapped(reason: "route 10.9.0.0/16 → ecmp group #1234 → " + chain))

        // The chip: flows hashed to 10.0.0.7 leave port 3, the others are trapped as unresolved.
        func send() -> (forwarded: Int, trapped: [TrapReason]) {
            for port in 1...32 {
                let frame = FrameBuilder.udp(srcMAC: MACAddress("02:00:00:00:00:99")!, dstMAC: f.rif.mac, src: IPAddress("10.0.0.9")!,
                                             dst: IPAddress("10.9.1.1")!, srcPort: UInt16(1000 + port), dstPort: 2)
                sw.inject(frame, on: 1)
            }
            return (sw.drainCounts()[3] ?? 0, sw.drainTrapReasons())
        }
        let partial = send()
        #expect(partial.forwarded > 0 && partial.forwarded < 32, "\(partial)")
        #expect(partial.trapped.count == 32 - partial.forwarded && Set(partial.trapped) == [.unresolvedNexthop])

        // The member resolves: both are offloaded and the chip forwards every flow.
        engine.submit(sets([.neighbor(HardwareNeighbor(rif: 500, address: other.gateway, mac: MACAddress("02:00:00:00:00:08")!))]))
        engine.run()
        #expect(engine.state(of: .nexthopGroup(id)) == .offloaded)
        #expect(engine.state(of: route.key) == .offloaded)
        let full = send()
        #expect(full.forwarded == 32 && full.trapped.isEmpty, "\(full)")
        _ = sw.readEvents()
        try sw.finish()
    }

    @Test("every member unresolved: the whole group is trapped")
    func allUnresolved() {
        let f = L3Fixture()
        let engine = OffloadEngine(driver: EmulatedASIC())
        let other = HardwareNexthop(rif: 500, gateway: IPAddress("10.0.0.8")!)
        let id = NexthopGroupID(rawValue: 7)
        let group = HardwareNexthopGroup(id: id, members: [.init(nexthop: f.nexthop), .init(nexthop: other)])
        engine.submit(sets([.port(f.port), .routerInterface(f.rif), .nexthop(f.nexthop), .nexthop(other), .nexthopGroup(group)]))
        engine.run()
        #expect(engine.state(of: .nexthopGroup(id)) == .trapped(reason: "nexthop group 7 → all 2 members unresolved"))
    }
}

@testable import Stages
import SwitchDriver
import SwitchModel
import Testing

/// Synthesized ECMP group ids (routes with inline `RTA_MULTIPATH`) depend on the member
/// list only: a restarted daemon, fed the same kernel in another order (a dump comes in
/// hash order), must name every group as the chip already does, or it reprograms them.
@Suite("Synthesized ECMP group ids")
struct GroupIDTests {
    static let ports: [MirrorDelta] = [
        .link(.added(chipPort(1))), .link(.added(chipPort(2))), .link(.added(chipPort(3))),
        .address(.added(address(swp(1), "10.0.1.1/24"))), .address(.added(address(swp(2), "10.0.2.1/24"))),
        .address(.added(address(swp(3), "10.0.3.1/24"))),
    ]

    /// Four member sets of 2–3 next hops over eight routes, plus a kernel nexthop group.
    static let routes: [MirrorDelta] = {
        let sets: [[(String, IfIndex, UInt16)]] = [
            [("10.0.1.2", swp(1), 1), ("10.0.2.2", swp(2), 1)],
            [("10.0.1.3", swp(1), 1), ("10.0.2.3", swp(2), 2), ("10.0.3.3", swp(3), 1)],
            [("10.0.2.4", swp(2), 1), ("10.0.3.4", swp(3), 1)],
            [("10.0.1.5", swp(1), 1), ("10.0.3.5", swp(3), 1), ("10.0.2.5", swp(2), 1)],
        ]
        var out: [MirrorDelta] = (0..<8).map { i in .route(.added(route("172.16.\(i).0/24", via: sets[i % 4]))) }
        out += [.nexthop(.added(nexthopObject(1, via: "10.0.1.9", dev: swp(1)))),
                .nexthop(.added(nexthopObject(2, via: "10.0.2.9", dev: swp(2)))),
                .nexthop(.added(nexthopObject(10, group: [(1, 1), (2, 1)]))),
                .route(.added(route("172.17.0.0/16", nexthopID: 10)))]
        return out
    }()

    /// The desired state after applying `batches` in order.
    static func state(_ batches: [[MirrorDelta]], held: [HardwareObject] = []) -> [HardwareKey: HardwareObject] {
        var pipeline = StagePipeline(capabilities: testCapabilities())
        pipeline.preferGroupIDs(from: held)
        var state: [HardwareKey: HardwareObject] = [:]
        for batch in batches {
            for change in pipeline.apply(batch) {
                switch change {
                case .set(let d): state[d.key] = d.object
                case .remove(let key): state[key] = nil
                }
            }
        }
        return state
    }

    @Test("two pipelines fed the same final state in different orders and batches produce identical group ids")
    func orderIndependent() {
        let a = Self.state([Self.ports + Self.routes])
        // Reversed, one route per batch, and a transient set made and withdrawn first, so
        // allocation order and freed slots differ.
        let transient = route("192.168.9.0/24", via: [("10.0.1.7", swp(1), 1), ("10.0.3.7", swp(3), 1)])
        var batches: [[MirrorDelta]] = [Self.ports, [.route(.added(transient))]]
        batches += Self.routes.reversed().map { [$0] }
        batches.append([.route(.removed(transient))])
        let b = Self.state(batches)
        let groups = a.values.filter { if case .nexthopGroup(let g) = $0 { g.id.rawValue >= NexthopGroupID.synthesizedBase } else { false } }
        #expect(groups.count == 4)
        #expect(a == b, "difference: \(Set(a.keys).symmetricDifference(b.keys).map(\.description).sorted())")
    }

    @Test("ids the chip holds win over the hash, so colliding member lists keep their names across a restart")
    func heldIDsWin() {
        let members = [HardwareNexthopGroup.Member(nexthop: HardwareNexthop(rif: RouterInterfaceID(rawValue: swp(1).rawValue), gateway: ip("10.0.1.2"))),
                       HardwareNexthopGroup.Member(nexthop: HardwareNexthop(rif: RouterInterfaceID(rawValue: swp(2).rawValue), gateway: ip("10.0.2.2")))]
        let hashed = NexthopRegistry.hashedID(members)
        let other = NexthopGroupID(rawValue: NexthopGroupID.synthesizedBase | (hashed &+ 7) & ~NexthopGroupID.synthesizedBase)
        // The chip holds this member list under another id (it collided when it was made),
        // and some other list under the id this one hashes to.
        let held: [HardwareObject] = [
            .nexthopGroup(HardwareNexthopGroup(id: other, members: members)),
            .nexthopGroup(HardwareNexthopGroup(id: NexthopGroupID(rawValue: hashed), members: [members[0]])),
        ]
        let s = Self.state([Self.ports, Self.routes], held: held)
        #expect(s[.nexthopGroup(other)] == .nexthopGroup(HardwareNexthopGroup(id: other, members: members)))
        #expect(s[.nexthopGroup(NexthopGroupID(rawValue: hashed))] == nil)
        #expect(s[.route(vrf: 254, prefix("172.16.0.0/24"))] == .route(HardwareRoute(vrf: 254, prefix: prefix("172.16.0.0/24"), action: .group(other))))
    }
}

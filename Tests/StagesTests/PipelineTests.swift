import Foundation
@testable import Stages
import SwitchDriver
import SwitchModel
import Testing

@Suite("Stage pipeline")
struct PipelineTests {
    @Test("100k routes via 2 nexthops in one batch: one change per route plus the two nexthops, quickly")
    func largeBatch() throws {
        var pipeline = StagePipeline(capabilities: testCapabilities())
        _ = pipeline.apply([
            .link(.added(chipPort(1))), .link(.added(chipPort(2))),
            .address(.added(address(swp(1), "10.0.1.1/24"))), .address(.added(address(swp(2), "10.0.2.1/24"))),
        ])
        let count = 100_000
        let deltas: [MirrorDelta] = (0..<count).map { i in
            let via = i % 2 == 0 ? ("10.0.1.2", swp(1)) : ("10.0.2.2", swp(2))
            let p = IPPrefix(address: IPAddress(ipv4: 0x2000_0000 | UInt32(i) << 8), length: 24)
            return .route(.added(Route(key: Route.Key(destination: p), protocolID: .bgp,
                                       nexthops: [RouteNexthop(gateway: ip(via.0), interface: via.1)])))
        }
        let start = Date()
        let changes = pipeline.apply(deltas)
        let added = Date().timeIntervalSince(start)
        #expect(changes.count == count + 2)
        #expect(changes.filter { if case .set(let d) = $0, case .nexthop = d.object { true } else { false } }.count == 2)

        let removals: [MirrorDelta] = deltas.map { if case .route(.added(let r)) = $0 { .route(.removed(r)) } else { $0 } }
        let again = Date()
        let removed = pipeline.apply(removals)
        let took = Date().timeIntervalSince(again)
        #expect(removed.count == count + 2)
        #expect(removed.allSatisfy { if case .remove = $0 { true } else { false } })
        print("100k routes: added in \(Int(added * 1000)) ms, removed in \(Int(took * 1000)) ms")
        #expect(added < 10 && took < 10)
    }

    @Test("a batch returns net changes: set-then-removed keys vanish, one change per key")
    func netChanges() {
        var pipeline = StagePipeline(capabilities: testCapabilities())
        let out = pipeline.apply([
            .link(.added(bridgeLink())), .link(.added(chipPort(1, master: br0))),
            .link(.changed(old: chipPort(1, master: br0), new: chipPort(1))),
            .link(.removed(bridgeLink())),
        ])
        #expect(out.map(\.description) == ["set swp1 up mtu 1500 state forwarding"])
        let keys = out.map(\.key)
        #expect(Set(keys).count == keys.count)
        #expect(pipeline.apply([.link(.removed(chipPort(1)))]).map(\.description) == ["remove port swp1"])
        #expect(pipeline.apply([.link(.removed(chipPort(1)))]).isEmpty)
    }

    @Test("a route candidate is 16 bytes and an IPv4 slot key 12")
    func compactRoutes() {
        #expect(MemoryLayout<RouteCandidate>.stride == 16)
        #expect(MemoryLayout<RouteTarget>.size == 5)
    }
}

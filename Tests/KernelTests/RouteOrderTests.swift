@testable import DaemonService
import Offload
import SwitchDriver
import SwitchModel
import Testing

/// `hoist show routes` lists routes in `ip route`'s order (table, address, length) from
/// the bucketed two-scan sort; checked against a plain sort of the same keys.
@Suite("Route order of show routes")
struct RouteOrderTests {
    @Test("RouteBuckets hands out IPv4 and IPv6 routes of several tables exactly as a full sort orders them; stopping early stops")
    func bucketsEqualSort() {
        var generator = SystemRandomNumberGenerator()
        var keys: [HardwareKey] = []
        for vrf: UInt32 in [254, 1001, 7] {
            for _ in 0..<3000 {
                let length = UInt8.random(in: 0...32, using: &generator)
                let address = IPAddress(ipv4: UInt32.random(in: 0...UInt32.max, using: &generator))
                keys.append(.route(vrf: vrf, IPPrefix(address: address, length: 32).covering(length)))
            }
            for _ in 0..<500 {
                let length = UInt8.random(in: 0...128, using: &generator)
                let high: UInt64 = Bool.random(using: &generator) ? 0 : UInt64.random(in: 0...UInt64.max, using: &generator)
                let address = IPAddress(high: high, low: UInt64.random(in: 0...UInt64.max >> 17, using: &generator))
                keys.append(.route(vrf: vrf, IPPrefix(address: address, length: 128).covering(length)))
            }
            keys.append(.route(vrf: vrf, IPPrefix("::/0")!))
            keys.append(.route(vrf: vrf, IPPrefix("::1/128")!))
            keys.append(.route(vrf: vrf, IPPrefix("0.0.0.0/0")!))
            keys.append(.route(vrf: vrf, IPPrefix("255.255.255.255/32")!))
        }
        keys = Array(Set(keys))
        keys.shuffle(using: &generator)
        keys.append(.port(PortID(1)))   // not a route: left out
        let expected = keys.compactMap { key -> QueryRows.RouteOrder? in
            guard case .route(let vrf, let prefix) = key else { return nil }
            return QueryRows.RouteOrder(vrf: vrf, prefix: prefix)
        }.sorted()
        var buckets = QueryRows.RouteBuckets { body in keys.forEach(body) }
        var got: [QueryRows.RouteOrder] = []
        buckets.drain { got.append($0); return true }
        #expect(got.count == expected.count)
        #expect(got == expected)

        var early = QueryRows.RouteBuckets { body in keys.forEach(body) }
        var seen = 0
        early.drain { _ in seen += 1; return seen < 10 }
        #expect(seen == 10)
    }
}

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

    @Test("other objects in natural order: numbers by value (swp2 before swp10), MACs by value then VLAN then bridge, a total order for equal names")
    func naturalOrder() {
        let ports = [10, 2, 1, 32].map { HardwareKey.port(PortID(UInt16($0))) }.sorted(by: QueryRows.naturalOrder)
        #expect(ports.map(\.description) == ["port swp1", "port swp2", "port swp10", "port swp32"])
        #expect(QueryRows.naturalLess("vlan 9 on swp1", "vlan 10 on swp1") && !QueryRows.naturalLess("vlan 10", "vlan 9"))
        #expect(QueryRows.naturalLess("a", "ab") && !QueryRows.naturalLess("ab", "a") && !QueryRows.naturalLess("x07", "x7"))
        let mac = { (s: String) in MACAddress(s)! }
        let fdb: [HardwareKey] = [.fdb(BridgeID(rawValue: 9), .none, mac("33:33:00:00:00:01")), .fdb(BridgeID(rawValue: 4), .none, mac("33:33:00:00:00:01")),
                                  .fdb(BridgeID(rawValue: 5), .none, mac("02:00:00:00:0a:64")), .fdb(BridgeID(rawValue: 5), .none, mac("02:00:00:00:01:01"))]
        let sorted = fdb.sorted(by: QueryRows.naturalOrder)
        #expect(sorted == [fdb[3], fdb[2], fdb[1], fdb[0]], "\(sorted)")
    }
}

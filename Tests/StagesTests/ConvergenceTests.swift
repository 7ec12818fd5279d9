import Stages
import SwitchDriver
import SwitchModel
import Testing

/// Random churn over a small universe of kernel objects, applied in random batches. The
/// hardware state built from the pipeline's output must equal what a fresh pipeline makes
/// of the final kernel state, and the output must never remove a key that is not set.
@Suite("Convergence")
struct ConvergenceTests {
    @Test("incremental output converges to the from-scratch result", arguments: 1...16)
    func converges(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var kernel = KernelState()
        var pipeline = StagePipeline(capabilities: testCapabilities())
        var state: [HardwareKey: DesiredObject] = [:]
        for _ in 0..<80 {
            let batch = (0..<rng.next(12) + 1).map { _ in kernel.randomDelta(&rng) }
            for change in pipeline.apply(batch) {
                switch change {
                case .set(let d):
                    #expect(state[d.key] != d, "set of an unchanged \(d)")
                    state[d.key] = d
                case .remove(let k):
                    #expect(state[k] != nil, "remove of \(k), which is not set")
                    state[k] = nil
                }
            }
        }
        var fresh = StagePipeline(capabilities: testCapabilities())
        var expected: [HardwareKey: DesiredObject] = [:]
        for change in fresh.apply(kernel.everything) {
            if case .set(let d) = change { expected[d.key] = d }
        }
        #expect(canonical(state) == canonical(expected))
    }

    /// Descriptions with synthesized ECMP group ids (allocation order differs) replaced by
    /// their member lists.
    private func canonical(_ state: [HardwareKey: DesiredObject]) -> [String] {
        var groups: [NexthopGroupID: String] = [:]
        for case .nexthopGroup(let g) in state.values.map(\.object) {
            groups[g.id] = g.members.map { "\($0.nexthop)/\($0.weight)" }.joined(separator: ",")
        }
        return state.values.map { d in
            var text = d.description + " \(d.object.key)"
            for (id, members) in groups where id.rawValue >= NexthopGroupID.synthesizedBase {
                text = text.replacingOccurrences(of: id.description, with: "ecmp[\(members)]")
            }
            return text
        }.sorted()
    }
}

private extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

/// Conveniences for the random universe.
extension SplitMix64 {
    mutating func next(_ n: Int) -> Int { below(n) }
    mutating func bool() -> Bool { next() & 1 == 0 }
    mutating func pick<T>(_ options: [T]) -> T { options[below(options.count)] }
}

/// The mirrored kernel objects of the random universe, by identity.
struct KernelState {
    var links: [IfIndex: Link] = [:]
    var vlans: [BridgeVLAN.Key: BridgeVLAN] = [:]
    var addresses: [InterfaceAddress.Key: InterfaceAddress] = [:]
    var fdbEntries: [FDBEntry.Key: FDBEntry] = [:]
    var mdbEntries: [MDBEntry.Key: MDBEntry] = [:]
    var neighbors: [Neighbor.Key: Neighbor] = [:]
    var nexthops: [UInt32: NexthopObject] = [:]
    var routes: [Route.Key: Route] = [:]
    var netconf: [NetConf.Key: NetConf] = [:]
    var rules: [RoutingRule: RoutingRule] = [:]

    /// Everything, as additions, links first.
    var everything: [MirrorDelta] {
        links.values.sorted { $0.index < $1.index }.map { .link(.added($0)) }
            + vlans.values.map { .vlan(.added($0)) } + addresses.values.map { .address(.added($0)) }
            + nexthops.values.map { .nexthop(.added($0)) } + fdbEntries.values.map { .fdb(.added($0)) }
            + mdbEntries.values.map { .mdb(.added($0)) } + neighbors.values.map { .neighbor(.added($0)) }
            + routes.values.map { .route(.added($0)) } + netconf.values.map { .netconf(.added($0)) }
            + rules.values.map { .rule(.added($0)) }
    }

    /// A VRF device chip ports may be enslaved to.
    static let vrf0: IfIndex = 40
    /// The rules the universe draws from: the main rules and one that steers.
    static let someRules = [
        RoutingRule(family: .ipv4, priority: 32766, table: .main), RoutingRule(family: .ipv6, priority: 32766, table: .main),
        RoutingRule(family: .ipv4, priority: 100, table: 100, source: prefix("10.1.0.0/16")),
    ]

    static let ports: [IfIndex] = [swp(1), swp(2), swp(3), swp(4)]
    static let interfaces: [IfIndex] = ports + [br0, veth0, vxlan100, eth0, vrf0]

    mutating func randomDelta(_ rng: inout SplitMix64) -> MirrorDelta {
        switch rng.next(10) {
        case 0:
            let index = rng.pick(Self.interfaces)
            return Self.update(&links, key: index, Self.randomLink(index, &rng), &rng, MirrorDelta.link)
        case 1:
            let v = vlan(rng.pick(Self.ports + [br0, vxlan100]), rng.pick([10, 20]), pvid: rng.bool(), untagged: rng.bool())
            return Self.update(&vlans, key: v.key, v, &rng, MirrorDelta.vlan)
        case 2:
            let i = rng.pick(Self.interfaces)
            let a = address(i, rng.pick(["10.0.\(i.rawValue).1/24", "fe80::\(i.rawValue)/64"]))
            return Self.update(&addresses, key: a.key, a, &rng, MirrorDelta.address)
        case 3:
            let e: FDBEntry
            if rng.bool() {
                let port = rng.pick(Self.ports + [br0, veth0, vxlan100])
                e = fdb(port, "02:00:00:00:\(String(port.rawValue, radix: 16)):0\(rng.next(3))", vlan: rng.pick([0, 10]),
                        state: rng.pick([.permanent, .static, .dynamic, .stale]), flags: rng.bool() ? [] : [.externLearn])
            } else {
                // One remote per MAC: several would compete, and the newest winning is history.
                let m = rng.pick(["00:00:00:00:00:00", "02:00:00:00:bb:02", "02:00:00:00:bb:03"])
                e = vxlanFDB(m, remote: m == "00:00:00:00:00:00" ? rng.pick(["192.0.2.2", "192.0.2.3"]) : "192.0.2.\(m.suffix(1))")
            }
            return Self.update(&fdbEntries, key: e.key, e, &rng, MirrorDelta.fdb)
        case 4:
            let m = mdb(rng.pick(Self.ports + [br0, veth0]), rng.pick(["239.1.1.1", "239.1.1.2"]), vlan: rng.pick([0, 10]))
            return Self.update(&mdbEntries, key: m.key, m, &rng, MirrorDelta.mdb)
        case 5:
            let i = rng.pick(Self.interfaces)
            let n = neighbor(i, "10.0.\(i.rawValue).\(rng.pick([2, 3]))", lladdr: rng.pick([nil, "02:00:00:00:aa:01", "02:00:00:00:aa:02"]))
            return Self.update(&neighbors, key: n.key, n, &rng, MirrorDelta.neighbor)
        case 6:
            let id = rng.pick([UInt32(1), 2, 3, 4, 10, 11])
            let o: NexthopObject
            if id >= 10 {
                o = nexthopObject(id, group: (0..<rng.next(3) + 1).map { _ in (rng.pick([1, 2, 3, 4, 5]), UInt16(rng.next(3) + 1)) })
            } else {
                let dev = rng.pick(Self.ports + [br0, eth0])
                o = rng.next(5) == 0 ? nexthopObject(id, blackhole: true) : nexthopObject(id, via: "10.0.\(dev.rawValue).\(rng.pick([2, 3]))", dev: dev)
            }
            return Self.update(&nexthops, key: id, o, &rng, MirrorDelta.nexthop)
        case 8:
            let key = NetConf.Key(family: rng.pick([.ipv4, .ipv6]), scope: rng.pick([.all] + (Self.ports + [br0]).map(NetConfScope.interface)))
            let c = NetConf(key: key, forwarding: rng.next(3) != 0)
            return Self.update(&netconf, key: key, c, &rng, MirrorDelta.netconf)
        case 9:
            let r = rng.pick(Self.someRules)
            if let old = rules.removeValue(forKey: r) { return .rule(.removed(old)) }
            rules[r] = r
            return .rule(.added(r))
        default:
            let r = Self.randomRoute(&rng)
            return Self.update(&routes, key: r.key, r, &rng, MirrorDelta.route)
        }
    }

    /// Adds `value` when `key` is absent; otherwise replaces (2/3) or removes (1/3) it.
    private static func update<K: Hashable, V: Equatable & Sendable>(_ table: inout [K: V], key: K, _ value: V,
                                                                     _ rng: inout SplitMix64,
                                                                     _ wrap: (Change<V>) -> MirrorDelta) -> MirrorDelta {
        guard let old = table[key] else {
            table[key] = value
            return wrap(.added(value))
        }
        if rng.next(3) == 0 {
            table[key] = nil
            return wrap(.removed(old))
        }
        table[key] = value
        return wrap(.changed(old: old, new: value))
    }

    private static func randomLink(_ index: IfIndex, _ rng: inout SplitMix64) -> Link {
        switch index {
        case br0: return bridgeLink(filtering: rng.bool(), snooping: rng.next(4) != 0)
        case vxlan100: return vxlanLink(local: rng.next(4) == 0 ? nil : "192.0.2.1", master: rng.bool() ? br0 : nil)
        case veth0: return otherLink(veth0, "veth0", master: rng.bool() ? br0 : nil)
        case eth0: return otherLink(eth0, "eth0", kind: .other(""))
        case vrf0: return otherLink(vrf0, "vrf-red", kind: .vrf)
        default:
            var a = BridgePortAttributes()
            a.state = rng.pick([.forwarding, .blocking])
            a.learning = rng.bool()
            let master = rng.pick([nil, vrf0, br0, br0])
            return chipPort(index.rawValue - 10, master: master, attributes: master == br0 ? a : nil, mtu: rng.pick([1500, 9000]))
        }
    }

    private static func randomRoute(_ rng: inout SplitMix64) -> Route {
        let destination = "10.100.\(rng.next(6)).0/24"
        let metric = UInt32(rng.pick([0, 10]))
        func gw() -> (String, IfIndex, UInt16) {
            let dev = rng.pick(ports + [br0, eth0])
            return ("10.0.\(dev.rawValue).\(rng.pick([2, 3]))", dev, UInt16(rng.next(2) + 1))
        }
        switch rng.next(7) {
        case 0: return route(destination, metric: metric, dev: rng.pick(ports + [br0, eth0]))
        case 1: return route(destination, metric: metric, via: [gw()])
        case 2: return route(destination, metric: metric, via: (0..<rng.next(4) + 2).map { _ in gw() })
        case 3: return route(destination, metric: metric, nexthopID: rng.pick([1, 2, 3, 4, 10, 11]))
        case 4: return route(destination, table: .local, type: .local, dev: rng.pick(ports))
        case 5: return route(destination, metric: metric, type: .blackhole)
        default: return route(destination, metric: metric, type: .unreachable)
        }
    }
}

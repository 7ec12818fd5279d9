import Foundation
import KernelMirror
import SwitchModel
import Testing

/// Each object kind created with `ip`/`bridge` in a namespace reaches the mirror with the
/// attributes `ip -j`/`bridge -j` report; changes arrive as deltas; deletions remove it.
@Suite("Mirror against the real kernel", needsRoot, .serialized)
struct MirrorObjectTests {
    let ns: TestNamespace
    let mirror: KernelMirror

    init() throws {
        ns = try TestNamespace("obj")
        try ns.ip("link add br0 type bridge")
        try ns.ip("link add swp1 type veth peer name h1")
        try ns.ip("link add swp2 type veth peer name h2")
        try ns.ip("link set swp1 master br0")
        try ns.ip("link set swp2 master br0")
        for dev in ["br0", "swp1", "swp2", "h1", "h2"] { try ns.ip("link set \(dev) up") }
        try ns.ip("addr add 10.0.0.1/24 dev br0")
        mirror = try KernelMirror(namespace: ns.name)
        try mirror.start()
    }

    @Test("links, bridge and bridge-port attributes match ip -d -j link")
    func links() throws {
        _ = try mirror.settle()
        for entry in try ns.ipJSON("-d link show") {
            let name = try #require(entry["ifname"] as? String)
            let link = try #require(mirror.tables.link(named: name), "\(name) missing from the mirror")
            #expect(Int(link.index.rawValue) == entry["ifindex"] as? Int)
            #expect(Int(link.mtu) == entry["mtu"] as? Int)
            #expect(link.operState.description == entry["operstate"] as? String)
            #expect(link.mac?.description == entry["address"] as? String)
            let master = link.master.flatMap { mirror.tables.links[$0]?.name }
            #expect(master == entry["master"] as? String)
            let info = entry["linkinfo"] as? [String: Any]
            #expect(link.kind.infoKind == info?["info_kind"] as? String)
            if let data = info?["info_data"] as? [String: Any], let b = link.bridge {
                #expect(Int(b.ageingTime) == data["ageing_time"] as? Int)
                #expect(Int(b.stpState) == data["stp_state"] as? Int)
                #expect(Int(b.forwardDelay) == data["forward_delay"] as? Int)
                #expect(b.multicastSnooping.map { $0 ? 1 : 0 } == data["mcast_snooping"] as? Int)
            }
            if let slave = info?["info_slave_data"] as? [String: Any] {
                let p = try #require(link.bridgePort, "\(name) should be a bridge port")
                #expect(p.state.description == slave["state"] as? String)
                #expect(p.learning == slave["learning"] as? Bool)
                #expect(p.unicastFlood == slave["flood"] as? Bool)
                #expect(p.multicastFlood == slave["mcast_flood"] as? Bool)
                #expect(p.neighSuppress == slave["neigh_suppress"] as? Bool)
                #expect(p.neighVLANSuppress == (slave["neigh_vlan_suppress"] as? Bool ?? false))
                #expect(p.backupPort.flatMap { mirror.tables.links[$0]?.name } == slave["backup_port"] as? String)
                #expect(p.backupNexthop.map(Int.init) == slave["backup_nhid"] as? Int)
                #expect(Int(p.cost) == slave["cost"] as? Int)
            }
        }
    }

    @Test("a bridge-port flag change arrives as a link delta")
    func portFlags() throws {
        try ns.bridge("link set dev swp1 learning off flood off")
        let result = try mirror.pump { $0.link(named: "swp1")?.bridgePort?.learning == false }
        #expect(result.held)
        #expect(mirror.tables.link(named: "swp1")?.bridgePort?.unicastFlood == false)
        // A backup port (EVPN multihoming's redirect) arrives too.
        try ns.ip("link set swp1 type bridge_slave backup_port swp2")
        let backup = try mirror.pump { $0.link(named: "swp1")?.bridgePort?.backupPort != nil }
        #expect(backup.held)
        #expect(mirror.tables.link(named: "swp1")?.bridgePort?.backupPort == mirror.tables.link(named: "swp2")?.index)
        #expect(result.deltas.contains { if case .link(.changed(_, let new)) = $0 { new.name == "swp1" } else { false } })
    }

    @Test("MDB entries that exist before the mirror starts are in its initial dump")
    func mdbDump() throws {
        try ns.bridge("mdb add dev br0 port swp1 grp 239.1.1.1 permanent")
        try ns.bridge("mdb add dev br0 port swp2 grp ff02::1:ff00:1 temp")
        // A second mirror starts after the entries exist: only the dump can show them
        // (the kernel answers an MDB dump with RTM_GETMDB messages). The kernel may snoop
        // more groups meanwhile (the veths' own MLD reports), so the mirror must hold at
        // least every (port, group) listed before it started.
        let kernel = try ns.bridgeJSON("mdb show").flatMap { ($0["mdb"] as? [[String: Any]]) ?? [] }
        let late = try KernelMirror(namespace: ns.name)
        try late.start()
        let mirrored = Set(late.tables.mdb.keys.map { "\(late.tables.links[$0.port]?.name ?? "?") \($0.group)" })
        let listed = Set(kernel.map { "\($0["port"] as? String ?? "") \($0["grp"] as? String ?? "")" })
        #expect(listed.contains("swp1 239.1.1.1") && listed.contains("swp2 ff02::1:ff00:1"), "bridge mdb lists \(listed)")
        #expect(listed.isSubset(of: mirrored), "bridge mdb lists \(listed), the mirror has \(mirrored)")
    }

    @Test("FDB entries match bridge -j fdb; add and delete are deltas")
    func fdb() throws {
        try ns.bridge("fdb add 02:00:00:00:aa:aa dev swp1 master static")
        let mac = MACAddress("02:00:00:00:aa:aa")!
        var result = try mirror.pump { $0.fdb.values.contains { $0.key.mac == mac } }
        #expect(result.held)
        let entry = try #require(mirror.tables.fdb.values.first { $0.key.mac == mac })
        #expect(entry.state == .static)
        #expect(entry.flags.contains(.master))
        _ = try mirror.settle()
        let kernel = try ns.bridgeJSON("fdb show")
        #expect(kernel.count == mirror.tables.fdb.count, "bridge fdb lists \(kernel.count), the mirror \(mirror.tables.fdb.count)")
        for k in kernel {
            let m = try #require(MACAddress(k["mac"] as! String))
            let dev = k["ifname"] as? String
            #expect(mirror.tables.fdb.values.contains { $0.key.mac == m && mirror.tables.links[$0.key.port]?.name == dev
                && $0.state.description == (k["state"] as? String ?? "") }, "\(k) not mirrored")
        }
        // The bridge moves the entry to swp2 and announces only the new port: the mirror
        // holds one entry for the MAC, on swp2, as `bridge fdb` lists it.
        try ns.bridge("fdb replace 02:00:00:00:aa:aa dev swp2 master static")
        result = try mirror.pump { $0.fdb.values.contains { $0.key.mac == mac && $0.key.port != entry.key.port } }
        #expect(result.held)
        #expect(result.deltas.contains { if case .fdb(.removed(let e)) = $0 { e.key == entry.key } else { false } },
                "the entry left behind on swp1 was not removed")
        #expect(mirror.tables.fdb.values.filter { $0.key.mac == mac }.count == 1)
        #expect(mirror.tables.fdb == (try mirror.dumpTables()).fdb)
        try ns.bridge("fdb del 02:00:00:00:aa:aa dev swp2 master")
        result = try mirror.pump { !$0.fdb.values.contains { $0.key.mac == mac } }
        #expect(result.held)
        #expect(result.deltas.contains { if case .fdb(.removed(let e)) = $0 { e.key.mac == mac } else { false } })
    }

    @Test("an IPv6 route replaced by one of another form (reject → gateway → device) leaves one route, as the kernel holds it")
    func ipv6Replace() throws {
        try ns.ipScript("""
            -6 addr add 2001:db8:5::1/64 dev br0 nodad
            -6 route add unreachable 2001:db8:12::/64
            -6 route replace 2001:db8:12::/64 via 2001:db8:5::2 dev br0
            """)
        let prefix = IPPrefix("2001:db8:12::/64")!
        func held() -> [Route] { var out: [Route] = []; mirror.tables.routes.forEach { if $0.key.destination == prefix { out.append($0) } }; return out }
        var result = try mirror.pump { _ in held().contains { $0.nexthops.first?.gateway != nil } }
        #expect(result.held)
        _ = try mirror.settle()
        #expect(held().count == 1, "\(held())")
        try ns.ip("-6 route replace 2001:db8:12::/64 dev swp1")
        result = try mirror.pump { _ in held().contains { $0.key.interface != nil && $0.type == .unicast } && held().count == 1 }
        #expect(result.held, "\(held())")
        var fresh: [Route] = []
        try mirror.dumpTables().routes.forEach { if $0.key.destination == prefix { fresh.append($0) } }
        #expect(held() == fresh)
    }

    @Test("routes, ECMP weights, nexthop objects, neighbours and addresses match ip -j")
    func routing() throws {
        try ns.ip("neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 dev br0")
        try ns.ip("route add 10.9.0.0/16 via 10.0.0.2 metric 20")
        try ns.ip("route add 10.7.0.0/16 nexthop via 10.0.0.2 weight 1 nexthop via 10.0.0.3 weight 3")
        try ns.ip("nexthop add id 1 via 10.0.0.2 dev br0")
        try ns.ip("nexthop add id 2 via 10.0.0.3 dev br0")
        try ns.ip("nexthop add id 10 group 1/2,4")
        try ns.ip("route add 10.8.0.0/16 nhid 10")
        let ecmp = Route.Key(destination: IPPrefix("10.7.0.0/16")!)
        let held = try mirror.pump { $0.routes[ecmp] != nil && $0.nexthops[10] != nil && $0.routes[Route.Key(destination: IPPrefix("10.8.0.0/16")!)] != nil }
        #expect(held.held)
        let route = try #require(mirror.tables.routes[ecmp])
        #expect(route.nexthops.map(\.weight) == [1, 3])
        #expect(mirror.tables.nexthops[10]?.group == [.init(id: 1, weight: 1), .init(id: 2, weight: 4)])
        #expect(mirror.tables.routes[Route.Key(destination: IPPrefix("10.8.0.0/16")!)]?.nexthopID == 10)
        #expect(mirror.tables.routes[Route.Key(destination: IPPrefix("10.9.0.0/16")!, metric: 20)]?.nexthops.first?.gateway == IPAddress("10.0.0.2"))
        _ = try mirror.settle()

        // IPv6 link-local addresses and their routes appear asynchronously (DAD): wait until both agree.
        var kernelRoutes: [[String: Any]] = []
        let converged = try mirror.pump(seconds: 10) { t in
            kernelRoutes = (try? ns.ipJSON("route show table all")) ?? []  // "table all" lists both families
            return kernelRoutes.count == t.routes.count
        }
        #expect(converged.held, "ip route lists \(kernelRoutes.count), the mirror \(mirror.tables.routes.count)")
        for k in kernelRoutes where k["nexthops"] == nil && k["nhid"] == nil {
            let dst = k["dst"] as! String
            #expect(mirror.tables.routes.all.contains { $0.key.destination.description == dst }, "route \(dst) not mirrored")
        }
        // The kernel makes NOARP entries for multicast destinations without a notification;
        // every other neighbour must match.
        let neigh = try ns.ipJSON("neigh show").filter { ($0["state"] as? [String]) != ["NOARP"] }
        #expect(neigh.count == mirror.tables.neighbors.values.filter { !$0.state.contains(.noarp) }.count)
        let n = try #require(mirror.tables.neighbors[.init(interface: mirror.tables.link(named: "br0")!.index, address: IPAddress("10.0.0.2")!)])
        #expect(n.lladdr == MACAddress("02:00:00:00:00:02"))
        #expect(n.state.contains(.permanent))
        let addrCount = try ns.ipJSON("addr show").reduce(0) { $0 + (($1["addr_info"] as? [Any])?.count ?? 0) }
        #expect(addrCount == mirror.tables.addresses.count)
        #expect(try ns.ipJSON("nexthop show").count == mirror.tables.nexthops.count)

        try ns.ip("route del 10.9.0.0/16 metric 20")
        let gone = try mirror.pump { $0.routes[Route.Key(destination: IPPrefix("10.9.0.0/16")!, metric: 20)] == nil }
        #expect(gone.held)
    }

    @Test("a VXLAN device and its remote flood list are mirrored")
    func vxlan() throws {
        try ns.ip("link add vxlan100 type vxlan id 100 local 10.0.0.1 dstport 4789 nolearning")
        try ns.ip("link set vxlan100 master br0")
        try ns.ip("link set vxlan100 up")
        try ns.bridge("fdb append 00:00:00:00:00:00 dev vxlan100 dst 10.0.0.50")
        try ns.bridge("fdb append 00:00:00:00:00:00 dev vxlan100 dst 10.0.0.51")
        let held = try mirror.pump { t in t.fdb.values.filter { $0.key.mac == .zero && $0.key.remote != nil }.count == 2 }
        #expect(held.held)
        let link = try #require(mirror.tables.link(named: "vxlan100"))
        #expect(link.kind == .vxlan)
        #expect(link.vxlan?.vni == 100)
        #expect(link.vxlan?.local == IPAddress("10.0.0.1"))
        #expect(link.vxlan?.learning == false)
        #expect(link.vxlan?.port == 4789)
        #expect(link.vxlan?.tos == 0 && link.vxlan?.ttlInherit == false && link.vxlan?.df == 0)
        #expect(link.vxlan?.sourcePorts == nil)
        // The outer-header settings: tos inherit (1), ttl inherit, df set, a source port range.
        try ns.ip("link add vxlan200 type vxlan id 200 local 10.0.0.1 dstport 4789 tos inherit ttl inherit df set srcport 1000 2000")
        var tuned: Link?
        #expect(try mirror.pump { tuned = $0.link(named: "vxlan200"); return tuned != nil }.held)
        #expect(tuned?.vxlan?.tos == 1 && tuned?.vxlan?.ttlInherit == true && tuned?.vxlan?.df == 1)
        #expect(tuned?.vxlan?.sourcePorts == 1000..<2000)
        try ns.bridge("fdb del 00:00:00:00:00:00 dev vxlan100 dst 10.0.0.50")
        let one = try mirror.pump { t in t.fdb.values.filter { $0.key.mac == .zero && $0.key.remote != nil }.count == 1 }
        #expect(one.held)
    }

    @Test("qdiscs and tc filters match tc -j; a filter deleted by pref, a clsact deleted with its filters; equal to a fresh dump")
    func trafficControl() throws {
        func tc(_ args: String) throws { _ = try ns.exec(["tc"] + args.split(separator: " ").map(String.init)) }
        try tc("qdisc add dev swp2 root tbf rate 1mbit burst 10k limit 10k")
        try tc("qdisc add dev swp1 clsact")
        try tc("filter add dev swp1 ingress protocol all pref 1 u32 match u32 0 0 classid 1:1")
        _ = try ns.exec(["tc", "filter", "add", "dev", "swp1", "egress", "protocol", "ip", "pref", "2", "bpf", "bytecode", "1,6 0 0 0"])
        let swp1 = try #require(mirror.tables.link(named: "swp1")?.index)
        var result = try mirror.pump { t in
            t.qdiscs.values.contains { $0.kind == "tbf" } && t.tcFilters.values.contains { $0.kind == "bpf" }
        }
        #expect(result.held, "qdiscs \(mirror.tables.qdiscs.values) filters \(mirror.tables.tcFilters.values)")
        _ = try mirror.settle()
        let kernelQdiscs = try JSONSerialization.jsonObject(with: Data(try ns.exec(["tc", "-j", "qdisc", "show"]).utf8)) as! [[String: Any]]
        #expect(kernelQdiscs.count == mirror.tables.qdiscs.count, "tc lists \(kernelQdiscs.count) qdiscs, the mirror \(mirror.tables.qdiscs.count)")
        for q in kernelQdiscs {
            let dev = q["dev"] as? String
            #expect(mirror.tables.qdiscs.values.contains { $0.kind == q["kind"] as? String && mirror.tables.links[$0.key.interface]?.name == dev },
                    "\(q) not mirrored")
        }
        let ingress = mirror.tables.tcFilters.values.filter { $0.key.interface == swp1 && $0.isIngress }
        #expect(!ingress.isEmpty && ingress.allSatisfy { $0.kind == "u32" && $0.key.priority == 1 })
        // A fresh mirror dumps the same (filters per hook).
        let fresh = try KernelMirror(namespace: ns.name)
        try fresh.start()
        #expect(fresh.tables.qdiscs == mirror.tables.qdiscs)
        #expect(fresh.tables.tcFilters == mirror.tables.tcFilters)
        try tc("filter del dev swp1 ingress pref 1")
        result = try mirror.pump { t in !t.tcFilters.values.contains { $0.kind == "u32" } }
        #expect(result.held && result.deltas.contains { if case .tcFilter(.removed) = $0 { true } else { false } })
        try tc("qdisc del dev swp1 clsact")
        result = try mirror.pump { t in t.tcFilters.isEmpty && !t.qdiscs.values.contains { $0.kind == "clsact" } }
        #expect(result.held, "filters left after the clsact went: \(mirror.tables.tcFilters.values)")
    }

    @Test("deleting a link removes it and everything on it")
    func linkDeletion() throws {
        try ns.ip("link add dummyport type veth peer name dummypeer")
        #expect(try mirror.pump { $0.link(named: "dummyport") != nil }.held)
        try ns.ip("link del dummyport")
        let result = try mirror.pump { $0.link(named: "dummyport") == nil && $0.link(named: "dummypeer") == nil }
        #expect(result.held)
        #expect(result.deltas.contains { if case .link(.removed(let l)) = $0 { l.name == "dummyport" } else { false } })
    }
}

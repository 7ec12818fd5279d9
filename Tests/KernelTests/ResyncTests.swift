import Foundation
import KernelMirror
import Netlink
import SwitchModel
import Testing

/// Resync is a first-class path: overruns and the kernel's silent deletions.
@Suite("Resync", needsRoot, .serialized)
struct ResyncTests {
    @Test("ENOBUFS under route churn with a tiny receive buffer: detected, resynced, equal to a fresh dump")
    func overrun() throws {
        let ns = try TestNamespace("ovr")
        try ns.ipScript("""
            link add rt0 type veth peer name rt1
            link set rt0 up
            link set rt1 up
            addr add 10.1.0.1/24 dev rt0
            """)
        try ns.waitForDAD()
        var config = KernelMirror.Configuration()
        config.receiveBufferBytes = 2048  // the kernel rounds this up to its minimum; far too small for the churn
        let mirror = try KernelMirror(namespace: ns.name, configuration: config)
        try mirror.start()
        var batch = ""
        for i in 0..<3000 { batch += "route add 16.\(i / 256).\(i % 256).0/24 via 10.1.0.2\n" }
        try TestNamespace.run("ip", ["-n", ns.name, "-batch", "-"], input: batch)
        let done = try mirror.pump(seconds: 20) { $0.routes.all.filter { $0.key.destination.address.ipv4Value >> 24 == 16 }.count == 3000 }
        #expect(done.held)
        #expect(mirror.statistics.overruns >= 1, "the churn should overrun a 2 KiB buffer")
        #expect(mirror.statistics.resyncs >= 1)
        #expect(mirror.lastResyncCause?.isOverrun == true)
        let fresh = try KernelMirror(namespace: ns.name)
        try fresh.start()
        _ = try mirror.settle(milliseconds: 200)
        #expect(mirror.tables.routes == fresh.tables.routes)
        #expect(mirror.tables.links == fresh.tables.links)
    }

    @Test("ENOBUFS under add and delete churn of routes and FDB entries: after every resync the mirror equals a fresh dump")
    func overrunWithDeletes() throws {
        let ns = try TestNamespace("ovd")
        try ns.ipScript("""
            link add rt0 type veth peer name rt1
            link set rt0 up
            link set rt1 up
            addr add 10.1.0.1/24 dev rt0
            link add br0 type bridge
            link add bp0 type veth peer name bp1
            link set bp0 master br0
            link set br0 up
            link set bp0 up
            link set bp1 up
            """)
        var config = KernelMirror.Configuration()
        config.receiveBufferBytes = 2048  // the kernel rounds this up to its minimum; far too small for the churn
        // Duplicate address detection first: its local routes would arrive between the
        // mirror's last read and the fresh dump.
        try ns.waitForDAD()
        let mirror = try KernelMirror(namespace: ns.name, configuration: config)
        try mirror.start()
        _ = try mirror.settle(milliseconds: 300)
        /// Adds routes and FDB entries, then deletes every other one: the adds fill the tiny
        /// buffer, the deletes are dropped, so the adds still queued at the overrun are stale.
        func churn(round: Int) -> (ip: String, bridge: String) {
            var ip = "", bridge = ""
            for i in 0..<1200 { ip += "route add 16.\(round).\(i / 200).\(i % 200)/32 via 10.1.0.2\n" }
            for i in stride(from: 0, to: 1200, by: 2) { ip += "route del 16.\(round).\(i / 200).\(i % 200)/32\n" }
            let mac = { (i: Int) in String(format: "02:00:00:%02x:%02x:%02x", round, i / 256, i % 256) }
            for i in 0..<400 { bridge += "fdb add \(mac(i)) dev bp0 master static\n" }
            for i in stride(from: 0, to: 400, by: 2) { bridge += "fdb del \(mac(i)) dev bp0 master static\n" }
            return (ip, bridge)
        }
        func expectEqualToFreshDump(_ when: String) throws {
            // A resync whose dump failed (interrupted by the churn still running) is tried
            // again a second later: wait for it, then for quiet.
            let retried = try mirror.pump(seconds: 20) { _ in !mirror.dumpPending }
            #expect(retried.held, "a failed dump was not retried \(when) (\(mirror.statistics.failedDumps) failed)")
            _ = try mirror.settle(milliseconds: 300)
            let fresh = try KernelMirror(namespace: ns.name)
            try fresh.start()
            // Neighbours are left out: the kernel makes NOARP multicast entries without a
            // notification (Docs/KernelMirror.md), so only a dump sees them.
            var mine = mirror.tables, theirs = fresh.tables
            mine.neighbors = [:]
            theirs.neighbors = [:]
            let stale = Set(mine.fdb.keys).subtracting(theirs.fdb.keys).count
            let staleRoutes = mine.routes.count - theirs.routes.count
            let equal = mine == theirs
            // The routes that differ, both ways, so a failure names them.
            let myRoutes = Dictionary(mine.routes.all.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
            let theirRoutes = Dictionary(theirs.routes.all.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
            let differing = Set(myRoutes.keys).union(theirRoutes.keys).filter { myRoutes[$0] != theirRoutes[$0] }
            let named = differing.prefix(4).map { "mirror \(myRoutes[$0].map { "\($0)" } ?? "none") / kernel \(theirRoutes[$0].map { "\($0)" } ?? "none")" }
            #expect(equal, "mirror differs from a fresh dump \(when): \(stale) FDB entries and \(staleRoutes) routes too many (\(mirror.statistics.resyncs) resyncs, \(mirror.statistics.failedDumps) failed dumps); \(named)")
        }
        for round in 0..<3 {
            let resyncs = mirror.statistics.resyncs
            let batch = churn(round: round)
            try TestNamespace.run("ip", ["-n", ns.name, "-batch", "-"], input: batch.ip)
            try TestNamespace.run("bridge", ["-n", ns.name, "-batch", "-"], input: batch.bridge)
            let resynced = try mirror.pump(seconds: 20) { _ in mirror.statistics.resyncs > resyncs }
            #expect(resynced.held, "round \(round): the churn should overrun a 2 KiB buffer")
            try expectEqualToFreshDump("after the resync of round \(round)")
        }
        // Churn while the mirror reads: overruns and resyncs interleave with the changes.
        let resyncs = mirror.statistics.resyncs
        let batch = churn(round: 9)
        let finished = DispatchSemaphore(value: 0)
        let name = ns.name
        Thread {
            _ = try? TestNamespace.run("ip", ["-n", name, "-batch", "-"], input: batch.ip)
            _ = try? TestNamespace.run("bridge", ["-n", name, "-batch", "-"], input: batch.bridge)
            finished.signal()
        }.start()
        while finished.wait(timeout: .now()) == .timedOut { _ = try mirror.settle(milliseconds: 20) }
        #expect(mirror.statistics.resyncs > resyncs)
        try expectEqualToFreshDump("at the end")
        #expect(mirror.statistics.overruns >= 4)
        #expect(mirror.lastResyncCause?.isOverrun == true)
    }

    @Test("routes the kernel drops silently when their link goes down leave the mirror too")
    func silentDeletion() throws {
        let ns = try TestNamespace("sil")
        try ns.ipScript("""
            link add rt0 type veth peer name rt1
            link set rt0 up
            link set rt1 up
            addr add 10.2.0.1/24 dev rt0
            route add 10.20.0.0/16 via 10.2.0.2
            nexthop add id 5 via 10.2.0.2 dev rt0
            route add 10.21.0.0/16 nhid 5
            """)
        try ns.waitForDAD()
        let mirror = try KernelMirror(namespace: ns.name)
        try mirror.start()
        let key = Route.Key(destination: IPPrefix("10.20.0.0/16")!)
        #expect(mirror.tables.routes[key] != nil)
        #expect(mirror.tables.nexthops[5] != nil)
        try ns.ip("link set rt0 down")
        let gone = try mirror.pump { $0.routes[key] == nil && $0.nexthops[5] == nil }
        #expect(gone.held, "the mirror kept routes the kernel removed")
        #expect(mirror.statistics.routeRedumps >= 1)
        let fresh = try KernelMirror(namespace: ns.name)
        try fresh.start()
        #expect(mirror.tables.routes == fresh.tables.routes)
        #expect(mirror.tables.nexthops == fresh.tables.nexthops)
    }

    @Test("a port's carrier or admin change re-dumps only the routes through it, and the mirror still equals a fresh dump")
    func filteredRedump() throws {
        let ns = try TestNamespace("flt")
        // No IPv6: a link set down loses its link-local address, and an address removal
        // re-dumps every route (routes may use it as their source anywhere).
        try ns.exec(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])
        try ns.ipScript("""
            link add rt0 type veth peer name rt1
            link add up0 type veth peer name up1
            link set rt0 up
            link set rt1 up
            link set up0 up
            link set up1 up
            addr add 10.2.0.1/24 dev rt0
            addr add 10.3.0.1/24 dev up0
            route add 10.20.0.0/16 via 10.2.0.2
            nexthop add id 5 via 10.2.0.2 dev rt0
            nexthop add id 6 via 10.3.0.2 dev up0
            route add 10.21.0.0/16 nhid 5
            route add 10.23.0.0/16 nhid 6
            """)
        // Many routes over the other port: a re-dump through rt0 must not read them.
        var batch = ""
        for i in 0..<2000 { batch += "route add 172.\(16 + i / 256).\(i % 256).0/24 via 10.3.0.2\n" }
        let file = "/tmp/hoist-flt-\(getpid()).batch"
        defer { unlink(file) }
        try batch.write(toFile: file, atomically: false, encoding: .utf8)
        try TestNamespace.run("ip", ["-n", ns.name, "-batch", file])
        let mirror = try KernelMirror(namespace: ns.name)
        try mirror.start()
        func expectFresh(_ when: String) throws {
            let fresh = try KernelMirror(namespace: ns.name)
            try fresh.start()
            var differing: [String] = []
            mirror.tables.routes.forEach { r in if fresh.tables.routes[r.key] != r { differing.append("mirror \(r)") } }
            fresh.tables.routes.forEach { r in if mirror.tables.routes[r.key] != r { differing.append("kernel \(r)") } }
            #expect(differing.isEmpty, "routes differ from a fresh dump \(when): \(differing.prefix(6))")
            #expect(mirror.tables.nexthops == fresh.tables.nexthops, "nexthops differ from a fresh dump \(when)")
        }
        let direct = Route.Key(destination: IPPrefix("10.20.0.0/16")!)
        // Carrier off on rt0 (its peer down): the kernel flags the routes over it linkdown, silently.
        try ns.ip("link set rt1 down")
        let flagged = try mirror.pump { ($0.routes[direct]?.nexthops.first?.flags ?? 0) & 16 != 0 }   // RTNH_F_LINKDOWN
        #expect(flagged.held, "the mirror missed the linkdown flag of a route through rt0")
        #expect(mirror.statistics.filteredRouteRedumps == 1)
        #expect(mirror.statistics.lastRedumpRoutes < 20, "the filtered re-dump read \(mirror.statistics.lastRedumpRoutes) routes")
        let rerouted = flagged.deltas.filter { if case .route = $0 { true } else { false } }
        #expect(rerouted.count < 20, "a carrier change on rt0 re-reported \(rerouted.count) routes")
        try expectFresh("after the carrier change")
        // Admin down: the kernel flushes the routes over rt0, silently.
        try ns.ip("link set rt0 down")
        let gone = try mirror.pump { $0.routes[direct] == nil }
        #expect(gone.held, "the mirror kept a route the kernel flushed")
        #expect(mirror.statistics.filteredRouteRedumps >= 2)
        try expectFresh("after admin down")
        #expect(mirror.tables.routes.count >= 2000)

        // A nexthop group with a member on the link: the kernel drops that member from the
        // group's routes silently and its filtered dump leaves them out, so every route is read.
        try ns.ipScript("""
            link set rt0 up
            link set rt1 up
            nexthop replace id 5 via 10.2.0.2 dev rt0
            nexthop add id 7 group 5/6
            route add 10.22.0.0/16 nhid 7
            """)
        let group = Route.Key(destination: IPPrefix("10.22.0.0/16")!)
        #expect(try mirror.pump { $0.routes[group] != nil }.held)
        let filtered = mirror.statistics.filteredRouteRedumps
        let redumps = mirror.statistics.routeRedumps
        try ns.ip("link set rt1 down")
        #expect(try mirror.pump { $0.routes[group]?.nexthops.count == 1 }.held, "the group route kept its member on rt0")
        #expect(mirror.statistics.routeRedumps > redumps && mirror.statistics.filteredRouteRedumps == filtered)
        try expectFresh("after the carrier change under a group")
    }

    @Test("kernel STP: port state transitions reach the mirror")
    func stpStates() throws {
        let ns = try TestNamespace("stp")
        try ns.ip("link add br0 type bridge forward_delay 200 stp_state 1")
        try ns.ip("link add swp1 type veth peer name h1")
        try ns.ip("link set swp1 master br0")
        let mirror = try KernelMirror(namespace: ns.name)
        try mirror.start()
        try ns.ip("link set br0 up")
        try ns.ip("link set h1 up")
        try ns.ip("link set swp1 up")
        var states: [STPState] = []
        let result = try mirror.pump(seconds: 15) { t in
            if let s = t.link(named: "swp1")?.bridgePort?.state, states.last != s { states.append(s) }
            return states.last == .forwarding
        }
        #expect(result.held, "states seen: \(states)")
        #expect(states.contains(.listening) && states.contains(.learning), "states seen: \(states)")
        #expect(mirror.tables.link(named: "br0")?.bridge?.stpState == 1)
    }

    @Test("IGMP: a host joins a group, the MDB entry appears, then leaves")
    func igmpSnooping() throws {
        let sw = try TestNamespace("igmp")
        let host = try TestNamespace("igmph")
        try sw.ip("link add br0 type bridge mcast_snooping 1")
        try sw.ip("link add swp1 type veth peer name h1 netns \(host.name)")
        try sw.ip("link set swp1 master br0")
        for d in ["br0", "swp1"] { try sw.ip("link set \(d) up") }
        try sw.ip("addr add 10.3.0.1/24 dev br0")
        try host.ip("link set h1 up")
        try host.ip("addr add 10.3.0.2/24 dev h1")
        let mirror = try KernelMirror(namespace: sw.name)
        try mirror.start()
        let group = IPAddress("239.5.5.5")!
        let script = """
        import socket, struct, time
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack('4s4s', socket.inet_aton('239.5.5.5'), socket.inet_aton('10.3.0.2')))
        time.sleep(2)
        """
        try host.exec(["python3", "-c", script])
        let joined = try mirror.pump(seconds: 5) { $0.mdb.keys.contains { $0.group == .ip(group) } }
        #expect(joined.held || joined.deltas.contains { if case .mdb(.added(let e)) = $0 { e.key.group == .ip(group) } else { false } })
        let left = try mirror.pump(seconds: 10) { !$0.mdb.keys.contains { $0.group == .ip(group) } }
        #expect(left.held)
    }
}

/// Resync through the scripted transport: an overrun makes the mirror re-dump and sweep.
@Suite("Resync with a scripted kernel")
struct ScriptedResyncTests {
    static func sequence(of request: [UInt8]) -> UInt32 { request[8..<12].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } }
    static func type(of request: [UInt8]) -> UInt16 { request[4..<6].withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) } }
    static func done(_ seq: UInt32) -> ScriptedNetlinkTransport.Item {
        .datagram(NetlinkMessageBuilder(type: 3, flags: 2, sequence: seq).append(header: [0, 0, 0, 0]).bytes)
    }
    static func link(_ index: UInt32, _ name: String, seq: UInt32) -> [UInt8] {
        NetlinkMessageBuilder(type: 16, flags: 2, sequence: seq)
            .append(header: [0, 0, 1, 0] + withUnsafeBytes(of: index.littleEndian, Array.init) + [0, 0, 0, 0, 0, 0, 0, 0])
            .put(3, string: name).bytes
    }

    @Test("ENOBUFS with a stale add queued behind it: the dump wins, only later notifications apply")
    func overrunDiscardsStaleNotifications() throws {
        let requests = ScriptedNetlinkTransport()
        var linksInKernel: [(UInt32, String)] = [(1, "lo"), (2, "eth0")]
        requests.responder = { request in
            let seq = Self.sequence(of: request)
            var items: [ScriptedNetlinkTransport.Item] = []
            if Self.type(of: request) == 18, request[16] == 0 {  // RTM_GETLINK, AF_UNSPEC
                items = linksInKernel.map { .datagram(Self.link($0.0, $0.1, seq: seq)) }
            }
            return items + [Self.done(seq)]
        }
        let events = ScriptedNetlinkTransport()
        let mirror = KernelMirror(events: NetlinkChannel(transport: events), requests: NetlinkChannel(transport: requests))
        try mirror.start()
        // eth1 was added, then deleted; the delete was dropped with the overrun, the add is
        // still queued. The kernel (its dump) no longer has eth1.
        events.enqueue([.error(NetlinkError(code: ENOBUFS, operation: "recv")), .datagram(Self.link(3, "eth1", seq: 0))])
        // What the kernel sends after the socket is reopened (a change made during the dump).
        events.afterDiscard = { [.datagram(Self.link(4, "eth2", seq: 0))] }
        linksInKernel = [(1, "lo"), (2, "eth0")]
        _ = try mirror.settle(milliseconds: 50)
        #expect(mirror.statistics.resyncs == 1)
        #expect(events.discards == 1, "the events socket was not reopened before the dump")
        #expect(Set(mirror.tables.links.values.map(\.name)) == ["lo", "eth0", "eth2"],
                "a notification queued before the overrun was applied on top of the dump")
    }

    @Test("ENOBUFS → full dump → links that vanished are swept, new ones added")
    func overrunSweeps() throws {
        var linksInKernel: [(UInt32, String)] = [(1, "lo"), (2, "eth0")]
        let requests = ScriptedNetlinkTransport()
        requests.responder = { request in
            let seq = Self.sequence(of: request)
            var items: [ScriptedNetlinkTransport.Item] = []
            if Self.type(of: request) == 18, request[16] == 0 {  // RTM_GETLINK, AF_UNSPEC
                items = linksInKernel.map { .datagram(Self.link($0.0, $0.1, seq: seq)) }
            }
            return items + [Self.done(seq)]
        }
        let events = ScriptedNetlinkTransport()
        let mirror = KernelMirror(events: NetlinkChannel(transport: events), requests: NetlinkChannel(transport: requests))
        let initial = try mirror.start()
        #expect(initial.count == 2)
        linksInKernel = [(1, "lo"), (3, "eth1")]
        events.enqueue([.error(NetlinkError(code: ENOBUFS, operation: "recv"))])
        let batch = try mirror.poll(timeoutMilliseconds: 50) ?? mirror.flush()
        #expect(mirror.statistics.resyncs == 1)
        #expect(Set(mirror.tables.links.values.map(\.name)) == ["lo", "eth1"])
        #expect(batch.contains { if case .link(.removed(let l)) = $0 { l.name == "eth0" } else { false } })
        #expect(batch.contains { if case .link(.added(let l)) = $0 { l.name == "eth1" } else { false } })
    }

    @Test("a resync whose dumps are all interrupted does not stop the mirror: counted, put off, retried until it succeeds")
    func failedResyncIsRetried() throws {
        var linksInKernel: [(UInt32, String)] = [(1, "lo"), (2, "eth0")]
        var interruptedDumps = 0
        let requests = ScriptedNetlinkTransport()
        requests.responder = { request in
            let seq = Self.sequence(of: request)
            guard Self.type(of: request) == 18, request[16] == 0 else { return [Self.done(seq)] }  // RTM_GETLINK, AF_UNSPEC
            var items: [ScriptedNetlinkTransport.Item] = linksInKernel.map { .datagram(Self.link($0.0, $0.1, seq: seq)) }
            if interruptedDumps > 0 {
                interruptedDumps -= 1
                // NLM_F_MULTI | NLM_F_DUMP_INTR on the answer: the kernel's table changed meanwhile.
                items = linksInKernel.map { .datagram(NetlinkMessageBuilder(type: 16, flags: 2 | 0x10, sequence: seq)
                    .append(header: [0, 0, 1, 0] + withUnsafeBytes(of: $0.0.littleEndian, Array.init) + [0, 0, 0, 0, 0, 0, 0, 0])
                    .put(3, string: $0.1).bytes) }
            }
            return items + [Self.done(seq)]
        }
        let events = ScriptedNetlinkTransport()
        var configuration = KernelMirror.Configuration()
        configuration.failedDumpRetryMilliseconds = 20
        let mirror = KernelMirror(events: NetlinkChannel(transport: events), requests: NetlinkChannel(transport: requests),
                                  configuration: configuration)
        try mirror.start()
        linksInKernel = [(1, "lo"), (3, "eth1")]
        interruptedDumps = configuration.dumpAttempts          // every attempt of the first resync
        events.enqueue([.error(NetlinkError(code: ENOBUFS, operation: "recv"))])
        _ = try mirror.poll(timeoutMilliseconds: 5)
        #expect(mirror.statistics.failedDumps == 1)
        #expect(Set(mirror.tables.links.values.map(\.name)) == ["lo", "eth0"], "the mirror keeps what it had")
        _ = try mirror.settle(milliseconds: 100)
        #expect(mirror.statistics.failedDumps == 1 && mirror.statistics.resyncs == 2)
        #expect(Set(mirror.tables.links.values.map(\.name)) == ["lo", "eth1"], "the retried resync did not happen")
    }
}

import KernelMirror
import Netlink
import Offload
import Stages
import SwitchDriver
import SwitchdevDriver
import SwitchModel
import Testing

/// A switchdev box in a test: every kernel message goes to two mirrors over scripted
/// transports — hoistd's (stages → engine) and the Switchdev driver's own — as both
/// sockets would receive it; the engine programs the driver, and the driver's reports
/// (`objectState`) go back to the engine as hoistd's loop hands them.
final class ObservedBox {
    typealias B = SwitchdevFlagsTests
    let daemonEvents = ScriptedNetlinkTransport(), driverEvents = ScriptedNetlinkTransport()
    let mirror: KernelMirror
    let driver: SwitchdevDriver
    var stages: StagePipeline
    let engine: OffloadEngine

    /// `links` answer the link dump of both mirrors (the driver's ports are those of its first dump).
    init(links: [[UInt8]], devlink: DevlinkResourceSource? = nil) throws {
        func mirror(_ events: ScriptedNetlinkTransport) -> KernelMirror {
            let requests = ScriptedNetlinkTransport()
            requests.responder = { request in
                let seq = request[8..<12].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
                let type = request[4..<6].withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) }
                let done = ScriptedNetlinkTransport.Item.datagram(NetlinkMessageBuilder(type: 3, flags: 2, sequence: seq).append(header: [0, 0, 0, 0]).bytes)
                guard type == 18, request[16] == 0 else { return [done] }  // RTM_GETLINK, AF_UNSPEC
                return links.map { link in
                    var m = link
                    m.replaceSubrange(6..<8, with: B.le16(2))   // NLM_F_MULTI
                    m.replaceSubrange(8..<12, with: B.le32(seq))
                    return .datagram(m)
                } + [done]
            }
            return KernelMirror(events: NetlinkChannel(transport: events), requests: NetlinkChannel(transport: requests))
        }
        self.mirror = mirror(daemonEvents)
        driver = try SwitchdevDriver(mirror: mirror(driverEvents), statistics: NetlinkChannel(transport: ScriptedNetlinkTransport()),
                                     devlink: devlink)
        stages = StagePipeline(capabilities: driver.capabilities)
        engine = OffloadEngine(driver: driver)
        engine.submit(stages.apply(try self.mirror.start()))
        settle()
    }

    /// The kernel announces `datagrams`; hoistd's loop runs once.
    func kernel(_ datagrams: [[UInt8]]) throws {
        for d in datagrams {
            daemonEvents.enqueue(datagram: d)
            driverEvents.enqueue(datagram: d)
        }
        var deltas: [MirrorDelta] = []
        while let batch = try mirror.poll(timeoutMilliseconds: 0) { deltas += batch }
        deltas += mirror.flush()
        engine.submit(stages.apply(deltas))
        settle()
    }

    private func settle() {
        engine.run()
        for event in driver.pollEvents(limit: 1 << 20) {
            if case .objectState(let key, let report) = event { engine.hardwareReported(key, report) }
        }
    }

    func state(_ key: HardwareKey) -> OffloadState? { engine.state(of: key) }
    func evidence(_ key: HardwareKey) -> OffloadEvidence? { engine.evidence(of: key) }
}

/// Devlink resources of a table at its size (netdevsim's FIB shrunk to 12).
final class FullFIB: DevlinkResourceSource {
    func resources(ownerOf netdevs: Set<String>) throws -> [DevlinkResource] {
        [DevlinkResource(device: "netdevsim/netdevsim10", path: "/IPv4/fib", size: 12, occupancy: 12)]
    }
}

/// Each kernel flag → the offload state and evidence `hoist show` gives, end to end: kernel
/// messages built in the kernel's format, the stages' objects, the engine, the driver.
@Suite("Switchdev observer: kernel flags → offload state and evidence")
struct SwitchdevObserverTests {
    typealias B = SwitchdevFlagsTests
    static let switchID: [UInt8] = [0x34, 0x12, 0, 0, 0, 0, 0, 0]
    static let route24 = HardwareKey.route(vrf: 254, IPPrefix("203.0.113.0/24")!)

    /// `RTM_NEWLINK` with a MAC (`IFLA_ADDRESS`), up.
    static func port(_ index: UInt32, _ name: String, master: UInt32? = nil) -> [UInt8] {
        let b = NetlinkMessageBuilder(type: 16)
        b.append(header: [0, 0] + B.le16(1) + B.le32(index) + B.le32(0x1003) + B.le32(0))
        b.put(3, string: name)                                 // IFLA_IFNAME
        b.put(4, u32: 1500)                                    // IFLA_MTU
        b.put(1, bytes: [2, 0, 0, 0, 0, UInt8(index)])         // IFLA_ADDRESS
        if let master { b.put(10, u32: master) }               // IFLA_MASTER
        b.put(36, bytes: switchID)                             // IFLA_PHYS_SWITCH_ID
        if master != nil {
            b.nest(18) { li in
                li.put(4, string: "bridge")                    // IFLA_INFO_SLAVE_KIND
                li.nest(5) { s in s.put(1, u8: 3) }            // IFLA_BRPORT_STATE forwarding
            }
        }
        return b.bytes
    }

    /// br0 (10, VLAN filtering) over eth0 (2) and eth1 (3); eth2 (4) routed.
    static let links = [B.link(10, "br0", bridge: true), port(2, "eth0", master: 10), port(3, "eth1", master: 10), port(4, "eth2")]

    /// `RTM_NEWADDR` 198.51.100.1/24 on eth2 (its router interface).
    static let address: [UInt8] = {
        let b = NetlinkMessageBuilder(type: 20)
        b.append(header: [2, 24, 0, 0] + B.le32(4))
        b.put(1, bytes: [198, 51, 100, 1])                     // IFA_ADDRESS
        b.put(2, bytes: [198, 51, 100, 1])                     // IFA_LOCAL
        return b.bytes
    }()

    /// AF_INET `RTM_NEWNEIGH` 198.51.100.2 on eth2, reachable, with `ndm_flags`.
    static func neighbor(flags: UInt8) -> [UInt8] {
        let b = NetlinkMessageBuilder(type: 28)
        b.append(header: [2, 0] + B.le16(0) + B.le32(4) + B.le16(B.NUD_REACHABLE) + [flags, 1])
        b.put(1, bytes: [198, 51, 100, 2])                     // NDA_DST
        b.put(2, bytes: [2, 0, 0, 0, 0, 0x12])                 // NDA_LLADDR
        return b.bytes
    }

    /// `RTM_NEWVLAN`: VLAN `vid` on port `port`.
    static func vlan(port: UInt32, vid: UInt16) -> [UInt8] {
        let b = NetlinkMessageBuilder(type: 112)
        b.append(header: [7, 0, 0, 0] + B.le32(port))
        b.nest(1 | 0x8000) { n in n.put(1, bytes: B.le16(0) + B.le16(vid)) }  // BRIDGE_VLANDB_ENTRY_INFO
        return b.bytes
    }

    /// `RTM_NEWNEXTHOP` id `id` via 198.51.100.2 out of eth2, with `nh_flags`.
    static func nexthop(_ id: UInt32, flags: UInt32) -> [UInt8] {
        let b = NetlinkMessageBuilder(type: 104)
        b.append(header: [2, 0, 4, 0] + B.le32(flags))
        b.put(1, u32: id)                                      // NHA_ID
        b.put(5, u32: 4)                                       // NHA_OIF
        b.put(6, bytes: [198, 51, 100, 2])                     // NHA_GATEWAY
        return b.bytes
    }

    /// `RTM_NEWROUTE` 203.0.113.0/24 via nexthop object `id`, with `rtm_flags`.
    static func route(viaObject id: UInt32, flags: UInt32) -> [UInt8] {
        let b = NetlinkMessageBuilder(type: 24)
        b.append(header: [2, 24, 0, 0, 254, 3, 0, 1] + B.le32(flags))
        b.put(1, bytes: [203, 0, 113, 0])                      // RTA_DST
        b.put(15, u32: 254)                                    // RTA_TABLE
        b.put(30, u32: id)                                     // RTA_NH_ID
        return b.bytes
    }

    static func routed() throws -> ObservedBox {
        let box = try ObservedBox(links: links)
        try box.kernel([address, neighbor(flags: 0)])
        return box
    }

    @Test("route flag offload → offloaded, confirmed by the kernel's flag")
    func routeOffload() throws {
        let box = try Self.routed()
        try box.kernel([B.route([203, 0, 113, 0], 24, via: [198, 51, 100, 2], oif: 4, flags: Route.flagOffload)])
        #expect(box.state(Self.route24) == .offloaded)
        #expect(box.evidence(Self.route24) == OffloadEvidence(confirmed: true, detail: "kernel flag offload"))
    }

    @Test("route flag rt_trap → trapped: the kernel's driver traps this route to the CPU")
    func routeTrap() throws {
        let box = try Self.routed()
        try box.kernel([B.route([203, 0, 113, 0], 24, via: [198, 51, 100, 2], oif: 4, flags: Route.flagTrap)])
        #expect(box.state(Self.route24) == .trapped(reason: "the kernel's driver traps this route to the CPU (rt_trap)"))
        #expect(box.evidence(Self.route24) == OffloadEvidence(confirmed: true, detail: "kernel flag rt_trap"))
    }

    @Test("route flag rt_offload_failed → failed; at a full devlink resource, table full")
    func routeOffloadFailed() throws {
        let box = try Self.routed()
        try box.kernel([B.route([203, 0, 113, 0], 24, via: [198, 51, 100, 2], oif: 4, flags: Route.flagOffloadFailed)])
        #expect(box.state(Self.route24) == .failed(reason: "hardware failure: rt_offload_failed"))
        #expect(box.evidence(Self.route24)?.detail == "kernel flag rt_offload_failed")
        #expect(!box.driver.readBack().contains { $0.key == Self.route24 }, "a failed route is not held")

        let full = try ObservedBox(links: Self.links, devlink: FullFIB())
        try full.kernel([Self.address, Self.neighbor(flags: 0),
                         B.route([203, 0, 113, 0], 24, via: [198, 51, 100, 2], oif: 4, flags: Route.flagOffloadFailed)])
        #expect(full.state(Self.route24) == .failed(reason: "LPM table full 12/12"))
    }

    @Test("a route without a flag is pending until the kernel flags it; a later flag change is followed")
    func routeFlagLater() throws {
        let box = try Self.routed()
        try box.kernel([B.route([203, 0, 113, 0], 24, via: [198, 51, 100, 2], oif: 4, flags: 0)])
        guard case .pending(let why)? = box.state(Self.route24) else { Issue.record("\(String(describing: box.state(Self.route24)))"); return }
        #expect(why.contains("waiting for the kernel's flag"))
        #expect(box.evidence(Self.route24)?.confirmed == false)
        #expect(box.driver.readBack().contains { $0.key == Self.route24 }, "accepted: held")
        try box.kernel([B.route([203, 0, 113, 0], 24, via: [198, 51, 100, 2], oif: 4, flags: Route.flagOffload)])
        #expect(box.state(Self.route24) == .offloaded)
        try box.kernel([B.route([203, 0, 113, 0], 24, via: [198, 51, 100, 2], oif: 4, flags: Route.flagTrap)])
        #expect(box.state(Self.route24) == .trapped(reason: "the kernel's driver traps this route to the CPU (rt_trap)"))
        try box.kernel([B.route([203, 0, 113, 0], 24, via: [198, 51, 100, 2], oif: 4, flags: Route.flagOffloadFailed)])
        #expect(box.state(Self.route24) == .failed(reason: "hardware failure: rt_offload_failed"))
        try box.kernel([B.route([203, 0, 113, 0], 24, via: [198, 51, 100, 2], oif: 4, flags: Route.flagOffload)])
        #expect(box.state(Self.route24) == .offloaded, "offloaded again after a failure")
    }

    @Test("VLANs, ports and router interfaces are never flagged: offloaded, unconfirmed, saying so")
    func neverFlagged() throws {
        let box = try Self.routed()
        try box.kernel([Self.vlan(port: 2, vid: 100)])
        let vlan = HardwareKey.vlanMember(10, 1, 100)
        #expect(box.state(vlan) == .offloaded)
        #expect(box.evidence(vlan) == OffloadEvidence(confirmed: false, detail: "accepted by the switchdev driver; the kernel reports no offload flag for VLANs"))
        #expect(box.evidence(.port(1))?.confirmed == false)
        #expect(box.evidence(.port(1))?.detail.hasSuffix("no offload flag for ports") == true)
        #expect(box.state(.routerInterface(4)) == .offloaded)
        #expect(box.evidence(.routerInterface(4))?.detail.hasSuffix("no offload flag for router interfaces") == true)
    }

    @Test("neighbour: NTF_OFFLOADED confirms; without it offloaded, unconfirmed")
    func neighbors() throws {
        let box = try Self.routed()
        let key = HardwareKey.neighbor(4, IPAddress("198.51.100.2")!)
        #expect(box.state(key) == .offloaded)
        #expect(box.evidence(key)?.confirmed == false)
        try box.kernel([Self.neighbor(flags: B.NTF_OFFLOADED)])
        #expect(box.evidence(key) == OffloadEvidence(confirmed: true, detail: "kernel flag offload"))
    }

    @Test("static FDB entry: pending until flagged offload, then offloaded and confirmed")
    func fdb() throws {
        let box = try Self.routed()
        let mac: [UInt8] = [2, 0xaa, 0xbb, 0xcc, 0xdd, 1]
        let key = HardwareKey.fdb(10, 100, MACAddress("02:aa:bb:cc:dd:01")!)
        try box.kernel([Self.vlan(port: 2, vid: 100), B.fdb(port: 2, mac: mac, vlan: 100, master: 10, flags: B.NTF_MASTER, state: B.NUD_NOARP)])
        guard case .pending? = box.state(key) else { Issue.record("\(String(describing: box.state(key)))"); return }
        try box.kernel([B.fdb(port: 2, mac: mac, vlan: 100, master: 10, flags: B.NTF_MASTER | B.NTF_OFFLOADED, state: B.NUD_NOARP)])
        #expect(box.state(key) == .offloaded)
        #expect(box.evidence(key) == OffloadEvidence(confirmed: true, detail: "kernel flag offload"))
    }

    @Test("nexthop object flag RTNH_F_TRAP → its group trapped; RTNH_F_OFFLOAD → offloaded")
    func nexthopObject() throws {
        let box = try Self.routed()
        try box.kernel([Self.nexthop(7, flags: 0x40), Self.route(viaObject: 7, flags: Route.flagTrap)])
        let group = HardwareKey.nexthopGroup(7)
        #expect(box.state(group) == .trapped(reason: "the kernel's driver traps traffic through nexthop 7 to the CPU (trap)"))
        #expect(box.state(Self.route24) == .trapped(reason: "the kernel's driver traps this route to the CPU (rt_trap)"))
        try box.kernel([Self.nexthop(7, flags: 0x08)])
        #expect(box.state(group) == .offloaded)
        #expect(box.evidence(group)?.confirmed == true)
    }
}

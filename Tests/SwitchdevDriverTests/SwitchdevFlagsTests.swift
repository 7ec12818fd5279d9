import Foundation
import KernelMirror
import Netlink
import SwitchDriver
import SwitchdevDriver
import SwitchModel
import Testing

/// The Switchdev driver's pure parts — kernel flags → reports, switchdev ports, devlink
/// resources — on kernel messages built byte for byte in the kernel's format,
/// decoded by the Netlink module and applied to mirror tables as the driver's own mirror
/// does. No VM needed (the VM suite runs the driver on rocker and netdevsim).
@Suite("Switchdev driver: flags, ports, devlink")
struct SwitchdevFlagsTests {
    // MARK: Message builders (<linux/rtnetlink.h>, <linux/neighbour.h>)

    static func le16(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
    static func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }

    /// `RTM_NEWLINK`: a port with `IFLA_PHYS_SWITCH_ID`/`_PORT_NAME` and `IFLA_STATS64`,
    /// optionally enslaved, or a bridge.
    static func link(_ index: UInt32, _ name: String, switchID: [UInt8]? = nil, portName: String? = nil,
                     master: UInt32? = nil, bridge: Bool = false, stats: [UInt64]? = nil) -> [UInt8] {
        let b = NetlinkMessageBuilder(type: 16)
        b.append(header: [0, 0] + le16(1) + le32(index) + le32(0x1003) + le32(0))
        b.put(3, string: name)                        // IFLA_IFNAME
        b.put(4, u32: 1500)                           // IFLA_MTU
        if let master { b.put(10, u32: master) }      // IFLA_MASTER
        if let switchID { b.put(36, bytes: switchID) } // IFLA_PHYS_SWITCH_ID
        if let portName { b.put(38, string: portName) } // IFLA_PHYS_PORT_NAME
        if let stats { b.put(23, bytes: stats.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }) } // IFLA_STATS64
        b.nest(18) { li in                            // IFLA_LINKINFO
            if bridge {
                li.put(1, string: "bridge")
                li.nest(2) { d in d.put(7, u8: 1) }   // IFLA_BR_VLAN_FILTERING
            } else if master != nil {
                li.put(4, string: "bridge")           // IFLA_INFO_SLAVE_KIND
                li.nest(5) { s in s.put(1, u8: 4) }   // IFLA_INFO_SLAVE_DATA: IFLA_BRPORT_STATE blocking
            }
        }
        return b.bytes
    }

    /// `RTM_NEWROUTE` (IPv4, main table) via a gateway out of `oif`, with `rtm_flags`.
    static func route(_ dst: [UInt8], _ length: UInt8, via gateway: [UInt8], oif: UInt32, flags: UInt32) -> [UInt8] {
        let b = NetlinkMessageBuilder(type: 24)
        b.append(header: [2, length, 0, 0, 254, 3, 0, 1] + le32(flags))
        b.put(1, bytes: dst)                          // RTA_DST
        b.put(5, bytes: gateway)                      // RTA_GATEWAY
        b.put(4, u32: oif)                            // RTA_OIF
        b.put(15, u32: 254)                           // RTA_TABLE
        return b.bytes
    }

    /// AF_BRIDGE `RTM_NEWNEIGH` (an FDB entry) with `ndm_flags` and `ndm_state`.
    static func fdb(port: UInt32, mac: [UInt8], vlan: UInt16, master: UInt32, flags: UInt8, state: UInt16) -> [UInt8] {
        let b = NetlinkMessageBuilder(type: 28)
        b.append(header: [7, 0] + le16(0) + le32(port) + le16(state) + [flags, 0])
        b.put(2, bytes: mac)                          // NDA_LLADDR
        b.put(5, u16: vlan)                           // NDA_VLAN
        b.put(9, u32: master)                         // NDA_MASTER
        return b.bytes
    }

    static let NTF_MASTER: UInt8 = 0x04, NTF_EXT_LEARNED: UInt8 = 0x10, NTF_OFFLOADED: UInt8 = 0x20
    static let NUD_NOARP: UInt16 = 0x40, NUD_REACHABLE: UInt16 = 0x02

    static func decode(_ datagrams: [[UInt8]]) throws -> [KernelMessage] {
        let transport = ScriptedNetlinkTransport()
        for d in datagrams { transport.enqueue(datagram: d) }
        let channel = NetlinkChannel(transport: transport)
        var out: [KernelMessage] = []
        while try channel.receiveNotifications(timeoutMilliseconds: 0, emit: { out.append($0) }) {}
        #expect(channel.malformedCount == 0)
        return out
    }

    static func tables(_ datagrams: [[UInt8]]) throws -> MirrorTables {
        var t = MirrorTables()
        var deltas: [MirrorDelta] = []
        for m in try decode(datagrams) { t.apply(m, into: &deltas) }
        return t
    }

    /// A rocker-like switch: br0 (ifindex 10) over eth0/eth1 (2, 3), eth2 (4) routed, lo-ish eth9 (9) not switchdev.
    static func rockerTables(extra: [[UInt8]] = []) throws -> MirrorTables {
        let id: [UInt8] = [0x34, 0x12, 0, 0, 0, 0, 0, 0]
        return try tables([
            link(10, "br0", bridge: true),
            link(2, "eth0", switchID: id, portName: "sw1p1", master: 10, stats: [5, 6, 500, 600, 0, 0, 1, 0]),
            link(3, "eth1", switchID: id, portName: "sw1p2", master: 10),
            link(4, "eth2", switchID: id, portName: "sw1p3"),
            link(9, "eth9"),
        ] + extra)
    }

    // MARK: Tests

    @Test("IFLA_PHYS_SWITCH_ID, IFLA_PHYS_PORT_NAME and IFLA_STATS64 decode; the mirror drops the counters")
    func linkAttributes() throws {
        let messages = try Self.decode([Self.link(2, "eth0", switchID: [0x34, 0x12, 0, 0, 0, 0, 0, 0], portName: "sw1p1",
                                                  stats: [5, 6, 500, 600, 1, 2, 3, 4])])
        guard case .newLink(let l) = try #require(messages.first) else { Issue.record("no link"); return }
        #expect(l.physSwitchID == "3412000000000000")
        #expect(l.physPortName == "sw1p1")
        #expect(l.isSwitchdevPort)
        #expect(l.statistics == LinkStatistics(rxPackets: 5, txPackets: 6, rxBytes: 500, txBytes: 600,
                                                rxErrors: 1, txErrors: 2, rxDropped: 3, txDropped: 4))
        let t = try Self.rockerTables()
        #expect(t.links[2]?.statistics == nil, "counters are not mirror state")
        #expect(t.links[2]?.physPortName == "sw1p1")
    }

    @Test("switchdev ports: links with a switch id, numbered in ifindex order, named as the kernel names them")
    func ports() throws {
        let t = try Self.rockerTables()
        let ports = SwitchdevPorts(links: t.links.values)
        #expect(ports.ports.map(\.name) == ["eth0", "eth1", "eth2"])
        #expect(ports.ports.map(\.id) == [1, 2, 3])
        #expect(ports.ports.first?.portName == "sw1p1")
        #expect(ports.port(of: 3, in: t.links) == 2)
        #expect(ports.port(of: 9, in: t.links) == nil)
        #expect(ports.capabilityPorts.map(\.name) == ["eth0", "eth1", "eth2"])
    }

    @Test("route flags → reports: offload offloaded, rt_trap trapped, rt_offload_failed a hardware failure or a full table, none nil")
    func routeReports() throws {
        let t = try Self.rockerTables(extra: [
            Self.route([203, 0, 113, 0], 24, via: [198, 51, 100, 2], oif: 4, flags: Route.flagTrap),
            Self.route([203, 0, 114, 0], 24, via: [198, 51, 100, 2], oif: 4, flags: Route.flagOffload),
            Self.route([203, 0, 115, 0], 24, via: [198, 51, 100, 2], oif: 4, flags: Route.flagOffloadFailed),
            Self.route([203, 0, 116, 0], 24, via: [198, 51, 100, 2], oif: 4, flags: 0),
        ])
        var reports: [String: HardwareReport?] = [:]
        t.routes.forEach { r in reports[r.key.destination.description] = SwitchdevFlags.report(routeFlags: r.flags) }
        #expect(reports["203.0.113.0/24"] == .some(.trapped(reason: "the kernel's driver traps this route to the CPU (rt_trap)", evidence: "kernel flag rt_trap")))
        #expect(reports["203.0.114.0/24"] == .some(.offloaded(evidence: "kernel flag offload")))
        #expect(reports["203.0.115.0/24"] == .some(.failed(.hardwareFailure("rt_offload_failed"), evidence: "kernel flag rt_offload_failed")))
        #expect(reports["203.0.116.0/24"] == .some(nil), "no flag: the driver has not acted yet")
        let full = SwitchdevFlags.report(routeFlags: Route.flagOffloadFailed, full: (.lpmIPv4, TableOccupancy(used: 12, capacity: 12)))
        #expect(full == .failed(.tableFull(.lpmIPv4, used: 12, capacity: 12), evidence: "kernel flag rt_offload_failed"))
        #expect(DriverResult.tableFull(.lpmIPv4, used: 12, capacity: 12).description == "LPM table full 12/12")
    }

    @Test("FDB and neighbour flags: NTF_OFFLOADED offloaded; the FDB key is the shared identity (bridge ifindex, VLAN, MAC)")
    func fdbAndNeighborReports() throws {
        let mac: [UInt8] = [2, 0xaa, 0xbb, 0xcc, 0xdd, 1]
        let t = try Self.rockerTables(extra: [Self.fdb(port: 2, mac: mac, vlan: 100, master: 10, flags: Self.NTF_MASTER | Self.NTF_OFFLOADED, state: Self.NUD_NOARP)])
        let e = try #require(t.fdb.values.first)
        #expect(SwitchdevFlags.report(fdbFlags: e.flags) == .offloaded(evidence: "kernel flag offload"))
        #expect(SwitchdevFlags.report(fdbFlags: []) == nil)
        #expect(HardwareKey.fdb(of: e, inBridge: 10) == .fdb(10, 100, MACAddress("02:aa:bb:cc:dd:01")!))
        #expect(SwitchdevFlags.report(neighborFlags: Self.NTF_OFFLOADED) == .offloaded(evidence: "kernel flag offload"))
        #expect(SwitchdevFlags.report(neighborFlags: 0) == nil)
    }

    @Test("accepted but never flagged: VLANs, ports, router interfaces unconfirmed; routes and FDB entries to a port await a flag")
    func unflagged() {
        let vlan = SwitchdevFlags.unflagged(.vlanMember(VLANMember(bridge: 10, port: 1, vid: 100)), kernelNexthopObject: false)
        #expect(vlan == .unconfirmed("accepted by the switchdev driver; the kernel reports no offload flag for VLANs"))
        #expect(!vlan.isConfirmed)
        #expect(SwitchdevFlags.unflagged(.port(PortSettings(port: 1)), kernelNexthopObject: false).evidence.hasSuffix("no offload flag for ports"))
        let rif = RouterInterface(id: 4, binding: .port(3), mac: MACAddress("02:00:00:00:00:04")!, mtu: 1500)
        #expect(SwitchdevFlags.unflagged(.routerInterface(rif), kernelNexthopObject: false).evidence.hasSuffix("no offload flag for router interfaces"))
        let route = HardwareRoute(prefix: IPPrefix("203.0.113.0/24")!, action: .drop)
        guard case .awaiting(let why) = SwitchdevFlags.unflagged(.route(route), kernelNexthopObject: false) else {
            Issue.record("a route awaits the kernel's flag"); return
        }
        #expect(why.contains("net.ipv4.fib_notify_on_flag_change=1"))
        let toPort = HardwareFDBEntry(bridge: 10, vid: 100, mac: MACAddress("02:aa:bb:cc:dd:01")!, destination: .port(1))
        guard case .awaiting = SwitchdevFlags.unflagged(.fdb(toPort), kernelNexthopObject: false) else { Issue.record("FDB to a port awaits"); return }
        var local = toPort
        local.destination = .cpu
        #expect(!SwitchdevFlags.unflagged(.fdb(local), kernelNexthopObject: false).isConfirmed)
    }

    @Test("devlink: devices of the ports, resources flattened with paths, unlimited sizes, tables")
    func devlinkResources() throws {
        let d10 = DevlinkDevice(bus: "netdevsim", name: "netdevsim10"), d11 = DevlinkDevice(bus: "netdevsim", name: "netdevsim11")
        let ports = [DevlinkPort(device: d10, index: 0, flavour: .physical, netdevIndex: 4, netdevName: "eth4"),
                     DevlinkPort(device: d11, index: 0, flavour: .physical, netdevIndex: 9, netdevName: "eth9"),
                     DevlinkPort(device: d11, index: 1, flavour: .physical)]
        #expect(DevlinkNetlinkResources.devices(owning: ["eth4"], ports: ports) == [d10])
        #expect(DevlinkNetlinkResources.devices(owning: [], ports: ports) == [d10, d11])
        let tree = [DevlinkResourceNode(name: "IPv4", size: nil, occupancy: nil, children: [
                        DevlinkResourceNode(name: "fib", size: 12, occupancy: 12),
                        DevlinkResourceNode(name: "fib-rules", size: nil, occupancy: 3)]),
                    DevlinkResourceNode(name: "nexthops", size: nil, occupancy: 1)]
        let resources = DevlinkNetlinkResources.flatten(device: d10, tree)
        #expect(resources.map(\.path) == ["/IPv4", "/IPv4/fib", "/IPv4/fib-rules", "/nexthops"])
        #expect(resources.allSatisfy { $0.device == "netdevsim/netdevsim10" })
        let fib = try #require(resources.first { $0.path == "/IPv4/fib" })
        #expect(fib.size == 12 && fib.occupancy == 12 && fib.table == .lpmIPv4)
        #expect(resources.first { $0.path == "/IPv4" }?.occupancy == 0, "not counted: 0")
        #expect(resources.first { $0.path == "/nexthops" }?.size == nil)
        #expect(resources.first { $0.path == "/nexthops" }?.table == .nexthops)
    }
}

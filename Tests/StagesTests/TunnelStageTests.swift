import Stages
import SwitchDriver
import SwitchModel
import Testing

@Suite("Tunnel stage")
struct TunnelStageTests {
    @Test("a VXLAN device with flood entries and a remote MAC")
    func vxlan() throws {
        var g = GoldenSession("tunnel-vxlan")
        g.step("br0 (vlan_filtering 1) with swp1; vxlan100 (VNI 100, local 192.0.2.1) joins with PVID 10", [
            .link(.added(bridgeLink(filtering: true))), .link(.added(chipPort(1, master: br0))),
            .vlan(.added(vlan(swp(1), 10, pvid: true, untagged: true))),
            .link(.added(vxlanLink())),
            .vlan(.added(vlan(vxlan100, 10, pvid: true, untagged: true))),
        ])
        g.step("flood to 192.0.2.2 and 192.0.2.3; 02:00:00:00:bb:01 behind 192.0.2.2", [
            .fdb(.added(vxlanFDB("00:00:00:00:00:00", remote: "192.0.2.2"))),
            .fdb(.added(vxlanFDB("00:00:00:00:00:00", remote: "192.0.2.3"))),
            .fdb(.added(vxlanFDB("02:00:00:00:bb:01", remote: "192.0.2.2"))),
        ])
        g.step("bridge-side entries of the vxlan port: the learned one is skipped, its own MAC goes to the CPU", [
            .fdb(.added(fdb(vxlan100, "02:00:00:00:bb:01", vlan: 10))),
            .fdb(.added(fdb(vxlan100, "02:00:00:00:0d:64", vlan: 10, state: .permanent))),
        ])
        g.step("192.0.2.3 leaves the flood list", [.fdb(.removed(vxlanFDB("00:00:00:00:00:00", remote: "192.0.2.3")))])
        g.step("vxlan100 moves to PVID 20", [
            .vlan(.removed(vlan(vxlan100, 10, pvid: true, untagged: true))),
            .vlan(.added(vlan(vxlan100, 20, pvid: true, untagged: true))),
        ])
        g.step("vxlan100 leaves br0", [
            .link(.changed(old: vxlanLink(), new: vxlanLink(master: nil))),
        ])
        try g.verify()
    }

    @Test("zebra's EVPN remote MACs (extern_learn) are tunnel entries; a driver's write-back (extern_learn offload) is not; an underlay device in a VRF keeps the tunnel on the CPU")
    func evpnOwnership() throws {
        var g = GoldenSession("tunnel-vxlan-evpn")
        g.step("br0 with swp1 and vxlan100; zebra's flood entry", [
            .link(.added(bridgeLink())), .link(.added(chipPort(1, master: br0))), .link(.added(vxlanLink())),
            .fdb(.added(vxlanFDB("00:00:00:00:00:00", remote: "192.0.2.2"))),
        ])
        g.step("zebra's remote MAC: self extern_learn, no offload", [
            .fdb(.added(vxlanFDB("02:00:00:00:bb:01", remote: "192.0.2.2", state: .dynamic, flags: [.self, .externLearn]))),
        ])
        g.step("hoistd's own write-back: self extern_learn offload — nothing to program", [
            .fdb(.added(vxlanFDB("02:00:00:00:bb:02", remote: "192.0.2.3", state: .dynamic, flags: [.self, .externLearn, .offload]))),
        ])
        var inVRF = vxlanLink()
        inVRF.vxlan?.underlay = swp(2)
        g.step("vrf-red (table 10) with swp2; vxlan100 dev swp2: the underlay is in the VRF", [
            .link(.added(otherLink(IfIndex(40), "vrf-red", kind: .vrf))),
            .link(.added(chipPort(2, master: IfIndex(40)))),
            .link(.changed(old: vxlanLink(), new: inVRF)),
        ])
        try g.verify()
    }

    @Test("EVPN's L3VNI as zebra installs it: a bridge with only the vxlan device, in a VRF, without an address, is a router interface; the remote VTEP's router MAC and the type-5 route onlink through it are offloaded")
    func l3vni() throws {
        var g = GoldenSession("tunnel-evpn-l3vni")
        var vrfRed = otherLink(IfIndex(40), "vrf-red", kind: .vrf)
        vrfRed.vrfTable = 10
        var br4001 = bridgeLink(IfIndex(41), name: "br4001")
        br4001.master = IfIndex(40)
        g.step("vrf-red (table 10) with swp1 (10.0.1.254/24); the underlay swp2 (192.0.2.1/24) in main", [
            .link(.added(vrfRed)), .link(.added(chipPort(1, master: IfIndex(40)))), .link(.added(chipPort(2))),
            .address(.added(address(swp(1), "10.0.1.254/24"))), .address(.added(address(swp(2), "192.0.2.1/24"))),
        ])
        g.step("br4001 in vrf-red, no address; vxlan100 (the L3VNI) its only member", [
            .link(.added(br4001)), .link(.added(vxlanLink(master: IfIndex(41)))),
        ])
        let rmac = "02:00:00:00:40:02"
        var vtep = neighbor(IfIndex(41), "192.0.2.2", lladdr: rmac, state: .noarp)
        vtep.flags = 0x10   // NTF_EXT_LEARNED
        g.step("the remote VTEP 192.0.2.2: NOARP extern_learn neighbour on br4001 with its router MAC, the MAC behind the VTEP", [
            .neighbor(.added(vtep)),
            .fdb(.added(vxlanFDB(rmac, remote: "192.0.2.2", state: .dynamic, flags: [.self, .externLearn]))),
            .fdb(.added(fdb(vxlan100, rmac, master: IfIndex(41), flags: [.externLearn]))),
        ])
        g.step("the type-5 prefix 10.0.2.0/24 via 192.0.2.2 dev br4001 onlink in table 10", [
            .route(.added(route("10.0.2.0/24", table: RouteTable(rawValue: 10), via: [("192.0.2.2", IfIndex(41), 1)], flags: 0x04))),
        ])
        g.step("br4001 leaves vrf-red: without an address it is no router interface", [
            .link(.changed(old: br4001, new: bridgeLink(IfIndex(41), name: "br4001"))),
        ])
        try g.verify()
    }

    @Test("an underlay device that joins a VRF after the vxlan device named it takes the tunnel to the CPU; leaving brings it back")
    func underlayJoinsVRFLater() throws {
        var g = GoldenSession("tunnel-vxlan-underlay-vrf-later")
        var overSwp2 = vxlanLink()
        overSwp2.vxlan?.underlay = swp(2)
        g.step("br0 with swp1; routed swp2; vxlan100 dev swp2 joins br0; a flood entry", [
            .link(.added(bridgeLink())), .link(.added(chipPort(1, master: br0))), .link(.added(chipPort(2))),
            .link(.added(overSwp2)),
            .fdb(.added(vxlanFDB("00:00:00:00:00:00", remote: "192.0.2.2"))),
        ])
        g.step("vrf-red (table 10); swp2 joins it: the kernel now routes the underlay in table 10", [
            .link(.added(otherLink(IfIndex(40), "vrf-red", kind: .vrf))),
            .link(.changed(old: chipPort(2), new: chipPort(2, master: IfIndex(40)))),
        ])
        g.step("swp2 leaves vrf-red", [
            .link(.changed(old: chipPort(2, master: IfIndex(40)), new: chipPort(2))),
        ])
        try g.verify()
    }

    @Test("a VXLAN device without a local address stays on the CPU until it gets one")
    func noLocal() throws {
        var g = GoldenSession("tunnel-vxlan-no-local")
        g.step("br0 with swp1; vxlan100 without local joins; a flood entry", [
            .link(.added(bridgeLink())), .link(.added(chipPort(1, master: br0))),
            .link(.added(vxlanLink(local: nil))),
            .fdb(.added(vxlanFDB("00:00:00:00:00:00", remote: "192.0.2.2"))),
        ])
        g.step("local 192.0.2.1 set", [.link(.changed(old: vxlanLink(local: nil), new: vxlanLink()))])
        try g.verify()
    }

    @Test("a driver without VXLAN keeps tunnels on the CPU")
    func unsupported() throws {
        var g = GoldenSession("tunnel-vxlan-unsupported",
                              capabilities: testCapabilities(features: DriverCapabilities.Features.all.subtracting(.vxlan)))
        g.step("br0 with swp1 and vxlan100; a flood entry", [
            .link(.added(bridgeLink())), .link(.added(chipPort(1, master: br0))), .link(.added(vxlanLink())),
            .fdb(.added(vxlanFDB("00:00:00:00:00:00", remote: "192.0.2.2"))),
        ])
        try g.verify()
    }

    @Test("a VXLAN device with an IPv6 underlay keeps its bridge on the CPU; IPv4 brings it back")
    func ipv6Underlay() throws {
        var g = GoldenSession("tunnel-vxlan-ipv6-underlay")
        g.step("br0 with swp1 and swp2; vxlan100 with local 2001:db8::1 joins; a flood entry and a remote MAC", [
            .link(.added(bridgeLink())), .link(.added(chipPort(1, master: br0))), .link(.added(chipPort(2, master: br0))),
            .link(.added(vxlanLink(local: "2001:db8::1"))),
            .fdb(.added(vxlanFDB("00:00:00:00:00:00", remote: "2001:db8::2"))),
            .fdb(.added(vxlanFDB("02:00:00:00:20:02", remote: "2001:db8::2"))),
        ])
        g.step("local 192.0.2.1 instead, remotes re-added over IPv4: the chip bridges and tunnels", [
            .fdb(.removed(vxlanFDB("00:00:00:00:00:00", remote: "2001:db8::2"))),
            .fdb(.removed(vxlanFDB("02:00:00:00:20:02", remote: "2001:db8::2"))),
            .link(.changed(old: vxlanLink(local: "2001:db8::1"), new: vxlanLink())),
            .fdb(.added(vxlanFDB("00:00:00:00:00:00", remote: "192.0.2.2"))),
            .fdb(.added(vxlanFDB("02:00:00:00:20:02", remote: "192.0.2.2"))),
        ])
        try g.verify()
    }
}

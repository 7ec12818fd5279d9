import Stages
import SwitchDriver
import SwitchModel
import Testing

@Suite("Bridge stage")
struct BridgeStageTests {
    @Test("VLAN-filtering bridge with access and trunk members")
    func vlanMembers() throws {
        var g = GoldenSession("bridge-vlan-members")
        g.step("br0 (vlan_filtering 1) with swp1, swp2, swp3; veth0 standalone", [
            .link(.added(bridgeLink(filtering: true))),
            .link(.added(chipPort(1, master: br0))), .link(.added(chipPort(2, master: br0))),
            .link(.added(chipPort(3, master: br0))), .link(.added(otherLink(veth0, "veth0"))),
        ])
        g.step("swp1 access VLAN 10, swp2 access VLAN 20, swp3 trunk 10+20 tagged, veth0 VLAN 10, br0 self VLAN 10", [
            .vlan(.added(vlan(swp(1), 10, pvid: true, untagged: true))),
            .vlan(.added(vlan(swp(2), 20, pvid: true, untagged: true))),
            .vlan(.added(vlan(swp(3), 10))), .vlan(.added(vlan(swp(3), 20))),
            .vlan(.added(vlan(veth0, 10, pvid: true, untagged: true))),
            .vlan(.added(vlan(br0, 10, pvid: true, untagged: true))),
        ])
        g.step("swp3 drops VLAN 20; swp2 becomes a trunk of 20 tagged", [
            .vlan(.removed(vlan(swp(3), 20))),
            .vlan(.changed(old: vlan(swp(2), 20, pvid: true, untagged: true), new: vlan(swp(2), 20))),
        ])
        g.step("vlan_filtering off: members go, ports stay", [
            .link(.changed(old: bridgeLink(filtering: true), new: bridgeLink(filtering: false))),
        ])
        g.step("veth0 joins br0: a member the chip cannot reach keeps the whole bridge on the CPU", [
            .link(.changed(old: otherLink(veth0, "veth0"), new: otherLink(veth0, "veth0", master: br0))),
        ])
        g.step("veth0 leaves: the chip bridges again", [
            .link(.changed(old: otherLink(veth0, "veth0", master: br0), new: otherLink(veth0, "veth0"))),
        ])
        try g.verify()
    }

    @Test("802.1ad bridge on a driver with QinQ")
    func qinqSupported() throws {
        var g = GoldenSession("bridge-qinq-supported")
        g.step("br0 802.1ad, vlan_filtering 1, with swp1; swp1 VLAN 100; a static FDB entry", [
            .link(.added(bridgeLink(filtering: true, protocol: 0x88A8))), .link(.added(chipPort(1, master: br0))),
            .vlan(.added(vlan(swp(1), 100, pvid: true, untagged: true))),
            .fdb(.added(fdb(swp(1), "02:00:00:00:aa:01", vlan: 100, state: .static))),
        ])
        try g.verify()
    }

    @Test("802.1ad bridge on a driver without QinQ stays on the CPU")
    func qinqUnsupported() throws {
        var g = GoldenSession("bridge-qinq-unsupported",
                              capabilities: testCapabilities(features: DriverCapabilities.Features.all.subtracting(.qinq)))
        g.step("br0 802.1ad, vlan_filtering 1, with swp1; swp1 VLAN 100; a static FDB entry", [
            .link(.added(bridgeLink(filtering: true, protocol: 0x88A8))), .link(.added(chipPort(1, master: br0))),
            .vlan(.added(vlan(swp(1), 100, pvid: true, untagged: true))),
            .fdb(.added(fdb(swp(1), "02:00:00:00:aa:01", vlan: 100, state: .static))),
        ])
        g.step("br0 back to 802.1Q: offloaded, with its member and entry", [
            .link(.changed(old: bridgeLink(filtering: true, protocol: 0x88A8), new: bridgeLink(filtering: true, protocol: 0x8100))),
        ])
        try g.verify()
    }

    @Test("VLAN-filtering bridge on a driver without VLAN filtering stays on the CPU")
    func filteringUnsupported() throws {
        var g = GoldenSession("bridge-filtering-unsupported",
                              capabilities: testCapabilities(features: DriverCapabilities.Features.all.subtracting(.vlanFiltering)))
        g.step("br0 (vlan_filtering 1) with swp1 and an address", [
            .link(.added(bridgeLink(filtering: true))), .link(.added(chipPort(1, master: br0))),
            .vlan(.added(vlan(swp(1), 10, pvid: true, untagged: true))), .vlan(.added(vlan(br0, 10, pvid: true, untagged: true))),
            .address(.added(address(br0, "10.0.10.1/24"))),
        ])
        try g.verify()
    }

    @Test("FDB: local, static, dynamic and extern_learn entries; entries on other ports")
    func fdbEntries() throws {
        var g = GoldenSession("bridge-fdb")
        g.step("br0 (vlan_filtering 1) with swp1 and swp2 in VLAN 10; veth0 standalone", [
            .link(.added(bridgeLink(filtering: true))),
            .link(.added(chipPort(1, master: br0))), .link(.added(chipPort(2, master: br0))),
            .link(.added(otherLink(veth0, "veth0"))),
            .vlan(.added(vlan(swp(1), 10, pvid: true, untagged: true))), .vlan(.added(vlan(swp(2), 10, pvid: true, untagged: true))),
        ])
        g.step("entries", [
            .fdb(.added(fdb(swp(1), "02:00:00:00:01:01", vlan: 10, state: .permanent))),
            .fdb(.added(fdb(br0, "02:00:00:00:0f:64", vlan: 10, state: .permanent))),
            .fdb(.added(fdb(swp(2), "02:00:00:00:aa:01", vlan: 10, state: .static))),
            .fdb(.added(fdb(swp(1), "02:00:00:00:bb:01", vlan: 10))),
            .fdb(.added(fdb(swp(2), "02:00:00:00:cc:01", vlan: 10, flags: [.externLearn, .offload]))),
            .fdb(.added(fdb(veth0, "02:00:00:00:dd:01", vlan: 10))),
            .fdb(.added(FDBEntry(key: FDBEntry.Key(port: swp(1), mac: mac("33:33:00:00:00:01"), isSelf: true), state: .permanent, flags: [.self]))),
            .fdb(.added(FDBEntry(key: FDBEntry.Key(port: swp(2), mac: mac("02:00:00:00:ee:02"), isSelf: true), state: .static, flags: [.self]))),
        ])
        g.step("the unicast self entry goes (`bridge fdb del … self`)", [
            .fdb(.removed(FDBEntry(key: FDBEntry.Key(port: swp(2), mac: mac("02:00:00:00:ee:02"), isSelf: true), state: .static, flags: [.self]))),
        ])
        g.step("the dynamic entry goes stale (still kernel-learned); the offload flag is written back on the static one", [
            .fdb(.changed(old: fdb(swp(1), "02:00:00:00:bb:01", vlan: 10), new: fdb(swp(1), "02:00:00:00:bb:01", vlan: 10, state: .stale))),
            .fdb(.changed(old: fdb(swp(2), "02:00:00:00:aa:01", vlan: 10, state: .static),
                          new: fdb(swp(2), "02:00:00:00:aa:01", vlan: 10, state: .static, flags: [.offload]))),
        ])
        g.step("the kernel moves the dynamic MAC to swp2 without deleting the old entry", [
            .fdb(.added(fdb(swp(2), "02:00:00:00:bb:01", vlan: 10))),
        ])
        g.step("the stale swp1 copy is swept: the swp2 entry keeps the key", [
            .fdb(.removed(fdb(swp(1), "02:00:00:00:bb:01", vlan: 10, state: .stale))),
        ])
        g.step("the static entry is deleted", [
            .fdb(.removed(fdb(swp(2), "02:00:00:00:aa:01", vlan: 10, state: .static, flags: [.offload]))),
        ])
        try g.verify()
    }

    @Test("a port joining the bridge after its FDB entries arrived")
    func lateJoin() throws {
        var g = GoldenSession("bridge-fdb-late-join")
        g.step("br0 (no VLAN filtering) with swp1; swp2 standalone", [
            .link(.added(bridgeLink())), .link(.added(chipPort(1, master: br0))), .link(.added(chipPort(2))),
        ])
        g.step("entries naming br0 arrive for swp2 (and one in VLAN 1, which a non-filtering bridge never looks up)", [
            .fdb(.added(fdb(swp(2), "02:00:00:00:01:02", state: .permanent))),
            .fdb(.added(fdb(swp(2), "02:00:00:00:01:02", vlan: 1, state: .permanent))),
            .fdb(.added(fdb(swp(2), "02:00:00:00:aa:02", state: .static))),
        ])
        g.step("swp2 joins br0", [.link(.changed(old: chipPort(2), new: chipPort(2, master: br0)))])
        g.step("swp2 leaves br0", [.link(.changed(old: chipPort(2, master: br0), new: chipPort(2)))])
        try g.verify()
    }
}

import Stages
import SwitchDriver
import SwitchModel
import Testing

@Suite("Multicast stage")
struct MulticastStageTests {
    @Test("a group joined from two ports, then left")
    func joinAndLeave() throws {
        var g = GoldenSession("multicast-join-leave")
        g.step("br0 (snooping on) with swp1, swp2, swp3", [
            .link(.added(bridgeLink())),
            .link(.added(chipPort(1, master: br0))), .link(.added(chipPort(2, master: br0))), .link(.added(chipPort(3, master: br0))),
        ])
        g.step("239.1.1.1 joined on swp1", [.mdb(.added(mdb(swp(1), "239.1.1.1")))])
        g.step("239.1.1.1 joined on swp2; an (S,G) entry for swp3 traps the group (the chip has no source filters)", [
            .mdb(.added(mdb(swp(2), "239.1.1.1"))),
            .mdb(.added(mdb(swp(3), "239.1.1.1", source: "10.0.0.5"))),
        ])
        g.step("the (S,G) entry goes: the group is offloaded again", [
            .mdb(.removed(mdb(swp(3), "239.1.1.1", source: "10.0.0.5"))),
        ])
        g.step("the host (br0) joins too: the chip cannot copy to the CPU, the group stays on the CPU path", [
            .mdb(.added(mdb(br0, "239.1.1.1"))),
        ])
        g.step("the host leaves", [.mdb(.removed(mdb(br0, "239.1.1.1")))])
        g.step("swp1 leaves", [.mdb(.removed(mdb(swp(1), "239.1.1.1")))])
        g.step("swp2 leaves", [.mdb(.removed(mdb(swp(2), "239.1.1.1")))])
        try g.verify()
    }

    @Test("snooping off in the bridge removes the groups; on again restores them")
    func snoopingToggle() throws {
        var g = GoldenSession("multicast-snooping-toggle")
        g.step("br0 (vlan_filtering 1) with swp1 and swp2; ff0e::fb joined on swp1 in VLAN 10", [
            .link(.added(bridgeLink(filtering: true))),
            .link(.added(chipPort(1, master: br0))), .link(.added(chipPort(2, master: br0))),
            .vlan(.added(vlan(swp(1), 10, pvid: true, untagged: true))),
            .mdb(.added(mdb(swp(1), "ff0e::fb", vlan: 10))),
        ])
        g.step("mcast_snooping 0", [
            .link(.changed(old: bridgeLink(filtering: true), new: bridgeLink(filtering: true, snooping: false))),
        ])
        g.step("mcast_snooping 1", [
            .link(.changed(old: bridgeLink(filtering: true, snooping: false), new: bridgeLink(filtering: true, snooping: true))),
        ])
        try g.verify()
    }

    @Test("IGMPv3 source filtering: an INCLUDE-mode or source-listed group stays trapped; EXCLUDE {} is offloaded")
    func sourceFiltering() throws {
        var g = GoldenSession("multicast-source-filtering")
        g.step("br0 (snooping on) with swp1, swp2; 239.2.2.2 joined on swp1 as EXCLUDE {} (IGMPv3 join, like IGMPv2)", [
            .link(.added(bridgeLink())),
            .link(.added(chipPort(1, master: br0))), .link(.added(chipPort(2, master: br0))),
            .mdb(.added(mdb(swp(1), "239.2.2.2", filterMode: 0))),
        ])
        g.step("swp2 joins INCLUDE {10.0.0.5}: the (*,G) in INCLUDE mode and its (S,G)", [
            .mdb(.added(mdb(swp(2), "239.2.2.2", filterMode: 1, sourceCount: 1))),
            .mdb(.added(mdb(swp(2), "239.2.2.2", source: "10.0.0.5"))),
        ])
        g.step("swp2 leaves (both entries go): offloaded again", [
            .mdb(.removed(mdb(swp(2), "239.2.2.2", filterMode: 1, sourceCount: 1))),
            .mdb(.removed(mdb(swp(2), "239.2.2.2", source: "10.0.0.5"))),
        ])
        g.step("swp1 turns to EXCLUDE {10.0.0.9} (a blocked source)", [
            .mdb(.changed(old: mdb(swp(1), "239.2.2.2", filterMode: 0), new: mdb(swp(1), "239.2.2.2", filterMode: 0, sourceCount: 1))),
        ])
        try g.verify()
    }
}

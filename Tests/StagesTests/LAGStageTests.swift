import SwitchDriver
import SwitchModel
import Testing
@testable import Stages

@Suite("LAG stage: a bond over chip ports")
struct LAGStageTests {
    let bond0 = IfIndex(rawValue: 80)

    func bond(_ mode: BondMode = .balanceXOR, hash: BondHashPolicy = .layer34, master: IfIndex? = nil, active: IfIndex? = nil) -> Link {
        var l = otherLink(bond0, "bond0", kind: .bond, master: master)
        l.bond = BondAttributes(mode: mode, hashPolicy: hash, activeSlave: active)
        return l
    }

    /// swpN as bond0's slave: up with carrier, active, MII up unless told.
    func slave(_ n: UInt32, active: Bool = true, carrier: Bool = true) -> Link {
        var l = chipPort(n, master: bond0)
        l.bridgePort = nil
        l.flags = carrier ? 0x10041 : 0x1
        l.bondSlave = BondSlaveAttributes(active: active, miiUp: carrier)
        return l
    }

    @Test("a balance-xor bond over swp1 and swp2 is LAG lag1 in br0: slave order, carrier, FDB entries, renumbering, a mode the chip cannot do, a routed LAG")
    func lagLifecycle() throws {
        var g = GoldenSession("ports-lag")
        g.step("br0 with swp3; bond0 (balance-xor, layer3+4) without slaves: nothing of it", [
            .link(.added(bridgeLink())), .link(.added(chipPort(3, master: br0))), .link(.added(bond())),
        ])
        g.step("swp2, then swp1 join bond0: lag1 (the lowest member's number), members in slave order", [
            .link(.added(slave(2))), .link(.added(slave(1))),
        ])
        g.step("bond0 joins br0: lag1 is br0's port", [.link(.changed(old: bond(), new: bond(master: br0)))])
        g.step("bridge fdb add 02:00:00:00:00:99 dev bond0 master static: to lag1", [
            .fdb(.added(fdb(bond0, "02:00:00:00:00:99", state: .static, flags: [.master]))),
        ])
        g.step("swp2 loses carrier: lag1 distributes through swp1 only", [.link(.changed(old: slave(2), new: slave(2, carrier: false)))])
        g.step("ip link set bond0 type bond mode balance-rr: the kernel bonds; its slaves trapped, br0 on the CPU", [
            .link(.changed(old: bond(master: br0), new: bond(.balanceRR, master: br0))),
        ])
        g.step("back to balance-xor; swp1 leaves bond0: the LAG is renumbered lag2", [
            .link(.changed(old: bond(.balanceRR, master: br0), new: bond(master: br0))),
            .link(.changed(old: slave(1), new: chipPort(1))),
        ])
        g.step("active-backup with swp2 active (swp1 back as backup): lag1 sends and receives through swp2 only", [
            .link(.changed(old: bond(master: br0), new: bond(.activeBackup, master: br0, active: swp(2)))),
            .link(.changed(old: slave(2, carrier: false), new: slave(2))),
            .link(.changed(old: chipPort(1), new: slave(1, active: false))),
        ])
        g.step("bond0 leaves br0 and gets 10.0.9.1/24: a routed LAG", [
            .fdb(.removed(fdb(bond0, "02:00:00:00:00:99", state: .static, flags: [.master]))),
            .link(.changed(old: bond(.activeBackup, master: br0, active: swp(2)), new: bond(.activeBackup, active: swp(2)))),
            .address(.added(address(bond0, "10.0.9.1/24"))),
        ])
        try g.verify()
    }

    @Test("the kernel's slave order (read from /proc/net/bonding) wins over the order the slaves were seen joining")
    func kernelOrder() throws {
        var g = GoldenSession("ports-lag-order")
        g.step("swp2, then swp1 join bond0 (no order read): members in the order seen", [
            .link(.added(bond())), .link(.added(slave(2))), .link(.added(slave(1))),
        ])
        var listed = bond()
        listed.bond?.slaves = ["swp1", "swp2"]
        g.step("the mirror reads swp1, swp2 from /proc/net/bonding/bond0 (they were enslaved before hoistd saw them)", [
            .link(.changed(old: bond(), new: listed)),
        ])
        try g.verify()
    }

    @Test("a bond with a slave that is not a chip port stays the kernel's: its chip slaves trap their ingress")
    func mixedSlaves() throws {
        var g = GoldenSession("ports-lag-mixed")
        g.step("bond0 over swp1 and veth0", [
            .link(.added(bond())), .link(.added(slave(1))), .link(.added(otherLink(veth0, "veth0", master: bond0))),
        ])
        g.step("veth0 leaves: lag1", [.link(.changed(old: otherLink(veth0, "veth0", master: bond0), new: otherLink(veth0, "veth0")))])
        try g.verify()
    }

    @Test("802.3ad: the slaves the kernel makes active distribute, whatever aggregator the bond last reported (it is not resent when the active aggregator changes under carrier)")
    func lacpFollowsActiveSlaves() throws {
        var g = GoldenSession("ports-lag-lacp")
        func lacpBond(aggregator: UInt16?) -> Link {
            var l = bond(.lacp)
            l.bond?.activeAggregator = aggregator
            return l
        }
        func member(_ n: UInt32, active: Bool, aggregator: UInt16) -> Link {
            var l = slave(n, active: active)
            l.bondSlave?.aggregator = aggregator
            return l
        }
        g.step("bond0 (802.3ad) gets carrier with aggregator 1 active: swp1 in it, swp2 alone in aggregator 2 and disabled", [
            .link(.added(lacpBond(aggregator: 1))),
            .link(.added(member(1, active: true, aggregator: 1))), .link(.added(member(2, active: false, aggregator: 2))),
        ])
        g.step("LACP settles both in aggregator 2: the kernel disables swp1, enables both in 2 and notifies each slave; the bond is not resent", [
            .link(.changed(old: member(1, active: true, aggregator: 1), new: member(1, active: false, aggregator: 2))),
            .link(.changed(old: member(2, active: false, aggregator: 2), new: member(2, active: true, aggregator: 2))),
            .link(.changed(old: member(1, active: false, aggregator: 2), new: member(1, active: true, aggregator: 2))),
        ])
        try g.verify()
    }
}

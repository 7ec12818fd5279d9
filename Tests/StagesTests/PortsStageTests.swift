import Stages
import SwitchDriver
import SwitchModel
import Testing

@Suite("Ports stage")
struct PortsStageTests {
    @Test("a bridge with three chip ports and a non-chip port; ports leave; the bridge goes")
    func bridgeMembership() throws {
        var g = GoldenSession("ports-bridge-membership")
        g.step("links appear: eth0, veth0, swp1-swp4 standalone, br0 without ports", [
            .link(.added(otherLink(eth0, "eth0", kind: .other("")))),
            .link(.added(otherLink(veth0, "veth0"))),
            .link(.added(chipPort(1))), .link(.added(chipPort(2))), .link(.added(chipPort(3))), .link(.added(chipPort(4))),
            .link(.added(bridgeLink())),
        ])
        g.step("veth0 joins br0: still no chip port, nothing to offload", [
            .link(.changed(old: otherLink(veth0, "veth0"), new: otherLink(veth0, "veth0", master: br0))),
        ])
        g.step("swp1, swp2, swp3 join br0", [
            .link(.changed(old: chipPort(1), new: chipPort(1, master: br0))),
            .link(.changed(old: chipPort(2), new: chipPort(2, master: br0))),
            .link(.changed(old: chipPort(3), new: chipPort(3, master: br0))),
        ])
        g.step("swp3 leaves; swp4 goes down and gets MTU 9000", [
            .link(.changed(old: chipPort(3, master: br0), new: chipPort(3))),
            .link(.changed(old: chipPort(4), new: { var l = chipPort(4, mtu: 9000); l.adminUp = false; return l }())),
        ])
        g.step("br0 deleted: the kernel releases swp1, swp2 and veth0 first", [
            .link(.changed(old: chipPort(1, master: br0), new: chipPort(1))),
            .link(.changed(old: chipPort(2, master: br0), new: chipPort(2))),
            .link(.changed(old: otherLink(veth0, "veth0", master: br0), new: otherLink(veth0, "veth0"))),
            .link(.removed(bridgeLink())),
        ])
        g.step("swp4 removed", [.link(.removed(chipPort(4)))])
        try g.verify()
    }

    @Test("bridge-port attributes: STP blocking, learning off, flooding off, multicast router, isolated")
    func attributes() throws {
        var g = GoldenSession("ports-attributes")
        g.step("br0 with swp1 and swp2", [
            .link(.added(bridgeLink())), .link(.added(chipPort(1, master: br0))), .link(.added(chipPort(2, master: br0))),
        ])
        var a = BridgePortAttributes()
        a.state = .blocking
        g.step("swp1 STP state blocking", [
            .link(.changed(old: chipPort(1, master: br0), new: chipPort(1, master: br0, attributes: a))),
        ])
        var b = BridgePortAttributes()
        b.learning = false
        g.step("swp2 learning off", [
            .link(.changed(old: chipPort(2, master: br0), new: chipPort(2, master: br0, attributes: b))),
        ])
        var c = a
        c.unicastFlood = false
        c.multicastFlood = false
        c.broadcastFlood = false
        g.step("swp1 unicast, multicast and broadcast flooding off", [
            .link(.changed(old: chipPort(1, master: br0, attributes: a), new: chipPort(1, master: br0, attributes: c))),
        ])
        var d = b
        d.multicastRouter = 2
        d.isolated = true
        g.step("swp2 permanent multicast router, isolated", [
            .link(.changed(old: chipPort(2, master: br0, attributes: b), new: chipPort(2, master: br0, attributes: d))),
        ])
        var e = d
        e.multicastRouter = 1
        g.step("swp2 multicast router back to learned (1): not a permanent router port", [
            .link(.changed(old: chipPort(2, master: br0, attributes: d), new: chipPort(2, master: br0, attributes: e))),
        ])
        e.neighSuppress = true
        g.step("swp2 neigh_suppress on: the bridge sends its ARP and ND up whole (the kernel may answer them)", [
            .link(.changed(old: chipPort(2, master: br0, attributes: d), new: chipPort(2, master: br0, attributes: e))),
        ])
        var f = e
        f.neighSuppress = false
        f.neighVLANSuppress = true
        g.step("swp2 neigh_vlan_suppress instead (per VLAN): still up whole, the kernel decides per VLAN", [
            .link(.changed(old: chipPort(2, master: br0, attributes: e), new: chipPort(2, master: br0, attributes: f))),
        ])
        var backupPort = c
        backupPort.backupPort = swp(2)
        g.step("swp1 backup_port swp2: the kernel redirects swp1's traffic while it has no carrier; the bridge stays on the CPU", [
            .link(.changed(old: chipPort(1, master: br0, attributes: c), new: chipPort(1, master: br0, attributes: backupPort))),
        ])
        var backupNexthop = c
        backupNexthop.backupNexthop = 7
        g.step("backup_nhid 7 instead: the same", [
            .link(.changed(old: chipPort(1, master: br0, attributes: backupPort), new: chipPort(1, master: br0, attributes: backupNexthop))),
        ])
        g.step("no backup: the chip bridges again", [
            .link(.changed(old: chipPort(1, master: br0, attributes: backupNexthop), new: chipPort(1, master: br0, attributes: c))),
        ])
        try g.verify()
    }

    @Test("a driver without hardware learning leaves learning to the kernel")
    func noLearning() throws {
        var g = GoldenSession("ports-no-learning", capabilities: testCapabilities(features: DriverCapabilities.Features.all.subtracting(.learning)))
        g.step("br0 with swp1 (learning on in the kernel)", [.link(.added(bridgeLink())), .link(.added(chipPort(1, master: br0)))])
        try g.verify()
    }

    @Test("tc: an operator's root qdisc traps egress, filters trap their hook's direction, default qdiscs and empty hooks nothing")
    func trafficControl() throws {
        var g = GoldenSession("ports-tc")
        let tbf = Qdisc(interface: swp(2), handle: 0x8001_0000, parent: Qdisc.rootParent, kind: "tbf")
        let clsact = Qdisc(interface: swp(1), handle: 0xFFFF_0000, parent: Qdisc.ingressParent, kind: "clsact")
        let u32 = TCFilter(key: .init(interface: swp(1), parent: TCFilter.ingressHook, priority: 1, proto: 0x0300, handle: 0x800_800),
                           kind: "u32")
        g.step("br0 with swp1 and swp2", [.link(.added(bridgeLink())), .link(.added(chipPort(1, master: br0))), .link(.added(chipPort(2, master: br0)))])
        g.step("the kernel's default qdiscs (handle 0): nothing changes", [
            .qdisc(.added(Qdisc(interface: swp(1), handle: 0, parent: Qdisc.rootParent, kind: "fq_codel"))),
            .qdisc(.added(Qdisc(interface: swp(2), handle: 0, parent: Qdisc.rootParent, kind: "pfifo_fast"))),
        ])
        g.step("tc qdisc add dev swp2 root tbf …: swp2 egress trapped", [.qdisc(.added(tbf))])
        g.step("tc qdisc add dev swp1 clsact: no filter yet, nothing changes", [.qdisc(.added(clsact))])
        g.step("tc filter add dev swp1 ingress u32 …: swp1 ingress trapped", [.tcFilter(.added(u32))])
        let bpf = TCFilter(key: .init(interface: swp(1), parent: TCFilter.egressHook, priority: 2, proto: 0x0300, handle: 1), kind: "bpf")
        g.step("tc filter add dev swp1 egress bpf …: and its egress", [.tcFilter(.added(bpf))])
        g.step("the filters go, the clsact stays: swp1 back to the chip", [.tcFilter(.removed(u32)), .tcFilter(.removed(bpf))])
        g.step("tc qdisc del dev swp2 root: swp2 back to the chip", [.qdisc(.removed(tbf))])
        try g.verify()
    }

    @Test("tc flower and matchall on a port's ingress: the chip's ingress ACL; a key it cannot match traps the ingress; same-pref masks")
    func ingressACL() throws {
        try aclSession(GoldenSession("ports-acl"))
    }

    @Test("tc ingress filters on a driver without ACLs: the port's ingress is trapped")
    func ingressACLWithoutFeature() throws {
        try aclSession(GoldenSession("ports-acl-no-feature",
                                     capabilities: testCapabilities(features: DriverCapabilities.Features.all.subtracting(.acl))))
    }

    private func aclSession(_ session: GoldenSession) throws {
        var g = session
        func filter(_ port: UInt32, pref: UInt16, proto: UInt16, handle: UInt32 = 1, kind: String = "flower", _ c: TCClassifier) -> TCFilter {
            TCFilter(key: .init(interface: swp(port), parent: TCFilter.ingressHook, priority: pref, proto: proto.bigEndian, handle: handle),
                     kind: kind, classifier: c)
        }
        var ssh = FlowMatch()
        (ssh.ethType, ssh.ipProto, ssh.ipProtoMask, ssh.dstPort, ssh.dstPortMask) = (0x0800, 6, 0xFF, 22, 0xFFFF)
        (ssh.ipv4Src, ssh.ipv4SrcMask) = (0x0A00_0000, 0xFFFF_FF00)
        let dropSSH = filter(1, pref: 10, proto: 0x0800, TCClassifier(match: ssh, verdict: .drop))
        var telnet = ssh
        telnet.dstPort = 23
        let dropTelnet = filter(1, pref: 10, proto: 0x0800, handle: 2, TCClassifier(match: telnet, verdict: .drop))
        var mac = FlowMatch()
        (mac.srcMAC, mac.srcMACMask) = (0x0200_0000_0001, 0xFFFF_FFFF_FFFF)
        let otherMask = filter(1, pref: 10, proto: 0x0003, handle: 3, TCClassifier(match: mac, verdict: .trap))
        let all = filter(1, pref: 20, proto: 0x0003, kind: "matchall", TCClassifier(verdict: .pass))
        let vlan = filter(2, pref: 5, proto: 0x8100, TCClassifier(match: FlowMatch(), verdict: .drop, unsupported: "flower key 23 (vlan_id)"))
        let skipHW = filter(2, pref: 6, proto: 0x0003, kind: "matchall", TCClassifier(verdict: .drop, skipHardware: true))
        g.step("br0 with swp1 and swp2", [.link(.added(bridgeLink())), .link(.added(chipPort(1, master: br0))), .link(.added(chipPort(2, master: br0)))])
        g.step("tc qdisc add dev swp1 clsact: no filter, nothing changes",
               [.qdisc(.added(Qdisc(interface: swp(1), handle: 0xFFFF_0000, parent: Qdisc.ingressParent, kind: "clsact")))])
        g.step("tc filter add dev swp1 ingress pref 10 protocol ip flower src_ip 10.0.0.0/24 ip_proto tcp dst_port 22 action drop: swp1's ACL, the port classified by it",
               [.tcFilter(.added(dropSSH))])
        g.step("a second filter at pref 10 with the same masks (dst_port 23) joins the ACL", [.tcFilter(.added(dropTelnet))])
        g.step("tc filter add … pref 20 matchall action pass: after them", [.tcFilter(.added(all))])
        g.step("a filter at pref 10 with other masks: the kernel orders them by its mask list; swp1's ingress trapped, its ACL gone",
               [.tcFilter(.added(otherMask))])
        g.step("it goes: the ACL again", [.tcFilter(.removed(otherMask))])
        g.step("swp2: a vlan_id key the chip does not match → swp2's ingress trapped", [.tcFilter(.added(vlan))])
        g.step("swp2: vlan filter gone, a skip_hw matchall → still trapped (kept out of hardware)", [.tcFilter(.removed(vlan)), .tcFilter(.added(skipHW))])
        let llc = filter(2, pref: 7, proto: 0x0004, TCClassifier(match: mac, verdict: .drop))
        g.step("swp2: skip_hw gone, a filter on protocol 802_2 (LLC frames: no EtherType to compare) → still trapped",
               [.tcFilter(.removed(skipHW)), .tcFilter(.added(llc))])
        let blocked = Qdisc(interface: swp(2), handle: 0xFFFF_0000, parent: Qdisc.ingressParent, kind: "clsact", ingressBlock: 22)
        g.step("swp2: the LLC filter gone, clsact bound to shared block 22 → ingress trapped (the block's filters are the block's)",
               [.tcFilter(.removed(llc)), .qdisc(.added(blocked))])
        g.step("all filters and the block go: both ports back to the chip without ACLs",
               [.qdisc(.removed(blocked)), .tcFilter(.removed(dropSSH)), .tcFilter(.removed(dropTelnet)), .tcFilter(.removed(all))])
        try g.verify()
    }

    @Test("locked bridge port (802.1X, MAB): the chip checks source MACs itself (locked, mab on the port)")
    func locked() throws {
        try lockedSession(GoldenSession("ports-locked"))
    }

    @Test("locked bridge port on a driver without locked ports: its ingress is trapped, the kernel authorises source MACs")
    func lockedTrapped() throws {
        try lockedSession(GoldenSession("ports-locked-trapped",
                                        capabilities: testCapabilities(features: DriverCapabilities.Features.all.subtracting(.lockedPorts))))
    }

    private func lockedSession(_ session: GoldenSession) throws {
        var g = session
        g.step("br0 with swp1 and swp2", [.link(.added(bridgeLink())), .link(.added(chipPort(1, master: br0))), .link(.added(chipPort(2, master: br0)))])
        var a = BridgePortAttributes()
        a.locked = true
        g.step("bridge link set dev swp1 locked on", [.link(.changed(old: chipPort(1, master: br0), new: chipPort(1, master: br0, attributes: a)))])
        var b = a
        b.mab = true
        g.step("bridge link set dev swp1 mab on", [.link(.changed(old: chipPort(1, master: br0, attributes: a), new: chipPort(1, master: br0, attributes: b)))])
        let locked = fdb(swp(1), "02:00:00:00:00:99", flags: [.master, .locked])
        g.step("MAB: the kernel adds a locked entry for an unauthorised host — its MAC goes to the CPU", [.fdb(.added(locked))])
        let authorised = fdb(swp(1), "02:00:00:00:00:99", state: .static, flags: [.master])
        g.step("user space authorises it (bridge fdb replace … static): the chip forwards to swp1", [.fdb(.changed(old: locked, new: authorised))])
        g.step("swp1 leaves br0: a standalone port, nothing to authorise", [
            .fdb(.removed(authorised)), .link(.changed(old: chipPort(1, master: br0, attributes: b), new: chipPort(1))),
        ])
        try g.verify()
    }

    @Test("macvlan uppers: without an address, on a chip port its ingress is trapped, on a bridge its MAC goes to the CPU; with one, a router interface of its own over its lower; passthru stays trapped")
    func macvlan() throws {
        var g = GoldenSession("ports-macvlan")
        func mv(_ index: IfIndex, _ name: String, on lower: IfIndex, _ m: String, mode: MACVLANMode = .bridge) -> Link {
            var l = otherLink(index, name, kind: .macvlan)
            l.link = lower
            l.mac = mac(m)
            l.macvlanMode = mode
            return l
        }
        let mv0 = mv(70, "mv0", on: swp(1), "02:00:00:00:00:70")
        let mv1 = mv(71, "mv1", on: br0, "02:00:00:00:00:71")
        g.step("swp1 standalone; br0 with swp2", [
            .link(.added(chipPort(1))), .link(.added(bridgeLink())), .link(.added(chipPort(2, master: br0))),
        ])
        g.step("ip link add link swp1 name mv0 type macvlan: swp1 ingress trapped", [.link(.added(mv0))])
        g.step("ip link add link br0 name mv1 type macvlan: its MAC to the CPU in br0; br0 has no address, so swp2's ingress too", [.link(.added(mv1))])
        g.step("br0 gets an address (a router interface copies ARP/ND to the CPU): swp2 back to the chip", [
            .address(.added(address(br0, "10.0.0.254/24"))),
        ])
        g.step("mv1 changes its MAC", [.link(.changed(old: mv1, new: mv(71, "mv1", on: br0, "02:00:00:00:00:72")))])
        g.step("mv0 gets 10.0.1.100/24: swp1 has no router interface of its own (the kernel routes frames to its MAC anyway), so swp1 stays on the CPU", [
            .address(.added(address(IfIndex(rawValue: 70), "10.0.1.100/24"))),
        ])
        g.step("swp1 gets 10.0.5.254/24: its router interface, and mv0's beside it with its MAC; swp1 back to the chip", [
            .address(.added(address(swp(1), "10.0.5.254/24"))),
        ])
        g.step("mv1 gets 10.0.0.100/24: its router interface over br0; its MAC's CPU entry goes (the kernel's bridge has none: the MAC is in its address list)", [
            .address(.added(address(IfIndex(rawValue: 71), "10.0.0.100/24"))),
        ])
        var mv1Down = mv(71, "mv1", on: br0, "02:00:00:00:00:72")
        mv1Down.adminUp = false
        g.step("mv1 down: out of br0's hands, so no router interface; its MAC to the CPU (down)", [
            .link(.changed(old: mv(71, "mv1", on: br0, "02:00:00:00:00:72"), new: mv1Down)),
        ])
        g.step("mv1 up again: its router interface back", [.link(.changed(old: mv1Down, new: mv(71, "mv1", on: br0, "02:00:00:00:00:72")))])
        let mv2 = mv(72, "mv2", on: swp(1), "02:00:00:00:00:73", mode: .passthru)
        g.step("mv0 goes; mv2 in passthru mode on swp1 with an address: no router interface, swp1 ingress trapped", [
            .address(.removed(address(IfIndex(rawValue: 70), "10.0.1.100/24"))), .link(.removed(mv0)),
            .link(.added(mv2)), .address(.added(address(IfIndex(rawValue: 72), "10.0.2.100/24"))),
        ])
        g.step("both go", [.link(.removed(mv2)), .address(.removed(address(IfIndex(rawValue: 71), "10.0.0.100/24"))),
                           .link(.removed(mv(71, "mv1", on: br0, "02:00:00:00:00:72")))])
        try g.verify()
    }

    @Test("per-VLAN STP states and mst_enabled: the port's both directions are trapped")
    func perVLANState() throws {
        var g = GoldenSession("ports-mst")
        let filtering = bridgeLink(filtering: true)
        g.step("VLAN-filtering br0 with swp1 and swp2 in VLAN 10", [
            .link(.added(filtering)), .link(.added(chipPort(1, master: br0))), .link(.added(chipPort(2, master: br0))),
            .vlan(.added(vlan(swp(1), VLANID(rawValue: 10)!))), .vlan(.added(vlan(swp(2), VLANID(rawValue: 10)!))),
        ])
        var blocked = vlan(swp(1), VLANID(rawValue: 10)!)
        blocked.vlan.state = .blocking
        var forwarding = blocked
        forwarding.vlan.state = .forwarding
        g.step("bridge vlan set dev swp1 vid 10 state blocking", [.vlan(.changed(old: vlan(swp(1), VLANID(rawValue: 10)!), new: blocked))])
        g.step("… state forwarding", [.vlan(.changed(old: blocked, new: forwarding))])
        var mst = filtering
        mst.bridge?.mstEnabled = true
        g.step("ip link set br0 type bridge mst_enabled 1: every port trapped", [.link(.changed(old: filtering, new: mst))])
        g.step("mst_enabled 0", [.link(.changed(old: mst, new: filtering))])
        try g.verify()
    }

    @Test("a driver without port traps (an observer): tc, locked and macvlan are left to the kernel's driver")
    func noPortTraps() throws {
        var g = GoldenSession("ports-no-port-traps", capabilities: testCapabilities(features: DriverCapabilities.Features.all.subtracting([.portTraps, .lockedPorts])))
        var a = BridgePortAttributes()
        a.locked = true
        var mv = otherLink(70, "mv1", kind: .macvlan)
        mv.link = br0
        mv.mac = mac("02:00:00:00:00:71")
        g.step("br0 with a locked swp1, a tbf on it, a macvlan on br0: nothing trapped", [
            .link(.added(bridgeLink())), .link(.added(chipPort(1, master: br0, attributes: a))),
            .qdisc(.added(Qdisc(interface: swp(1), handle: 0x8001_0000, parent: Qdisc.rootParent, kind: "tbf"))),
            .link(.added(mv)),
        ])
        try g.verify()
    }
}

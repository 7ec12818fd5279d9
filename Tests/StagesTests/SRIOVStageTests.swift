import Stages
import SwitchDriver
import SwitchModel
import Testing

@Suite("SRIOV stage")
struct SRIOVStageTests {
    static let caps = DriverCapabilities(name: "sriov", ports: [.init(id: 1, name: "eth0")], tables: [.vfs: 4],
                                         features: [.sriov], maxECMPWidth: 1, maxBridges: 0)

    static func pf(_ vfs: [VFInfo]?) -> Link {
        var l = Link(index: 5, name: "eth0", kind: .other(""), adminUp: true, operState: .up, mtu: 1500,
                     mac: MACAddress("02:00:00:00:0f:00"))
        l.vfs = vfs
        return l
    }

    static let vf0 = VFInfo(index: 0, mac: MACAddress("02:00:00:00:00:10")!, vlan: 10, spoofCheck: true, trust: true, linkState: .enable)
    static let vf1 = VFInfo(index: 1)

    @Test("each VF of a PF becomes a .vf object after its PF's port; a changed VF is re-set; VFs go with the list")
    func mapping() {
        var p = StagePipeline(capabilities: Self.caps)
        let added = p.apply([.link(.added(Self.pf([Self.vf0, Self.vf1])))])
        #expect(added.map(\.key) == [.port(1), .vf(1, 0), .vf(1, 1)])
        #expect(added.contains(.set(DesiredObject(.vf(VFSettings(pf: 1, info: Self.vf0))))))

        var vf1 = Self.vf1
        vf1.maxTxRate = 100
        let changed = p.apply([.link(.changed(old: Self.pf([Self.vf0, Self.vf1]), new: Self.pf([Self.vf0, vf1])))])
        #expect(changed == [.set(DesiredObject(.vf(VFSettings(pf: 1, info: vf1))))])

        let gone = p.apply([.link(.changed(old: Self.pf([Self.vf0, vf1]), new: Self.pf(nil)))])
        #expect(gone == [.remove(.vf(1, 0)), .remove(.vf(1, 1))])
    }

    @Test("without .sriov, VFs map to nothing; a link that is not a port maps to nothing")
    func notSRIOV() {
        var switchChip = StagePipeline(capabilities: DriverCapabilities(name: "chip", ports: [.init(id: 1, name: "eth0")],
                                                                        tables: [:], features: .all))
        #expect(switchChip.apply([.link(.added(Self.pf([Self.vf0])))]).map(\.key) == [.port(1)])
        var other = StagePipeline(capabilities: Self.caps)
        var l = Self.pf([Self.vf0])
        l.name = "eth9"
        #expect(other.apply([.link(.added(l))]).isEmpty)
    }

    @Test("a VF depends on its PF's port, ranks with VLAN members, and occupies the VF table")
    func vocabulary() {
        let o = HardwareObject.vf(VFSettings(pf: 1, info: Self.vf0))
        #expect(o.key == .vf(1, 0))
        #expect(o.dependencies == [.port(1)])
        #expect(o.key.rank == HardwareKey.vlanMember(1, 1, .none).rank)
        #expect(o.table == .vfs)
        #expect(o.description == "vf 0 of swp1 mac 02:00:00:00:00:10 vlan 10 spoofchk on trust on state enable")
    }
}

import SwitchDriver
import SwitchModel

/// SR-IOV: every VF of a physical function that is a port of a driver with `.sriov`
/// becomes a `.vf` object carrying the settings the kernel holds for it.
///
/// The kernel counterpart is the PF's `IFLA_VFINFO_LIST` (`ip link show PF`: one `vf N …`
/// line per VF), set with `ip link set PF vf N …` and, for rates in switchdev mode,
/// `devlink port function rate set`. Like the ports stage it keeps no state: a VF is a
/// function of its PF's link.
struct SRIOVStage: Sendable {
    func keys(of link: IfIndex, in topology: Topology, into keys: inout Set<HardwareKey>) {
        guard topology.features.contains(.sriov), let pf = topology.portID(of: link),
              let vfs = topology.links[link]?.vfs else { return }
        for vf in vfs { keys.insert(.vf(pf, vf.index)) }
    }

    func value(of pf: PortID, _ index: UInt32, in topology: Topology) -> DesiredObject? {
        guard topology.features.contains(.sriov), let link = topology.link(of: pf),
              let vf = topology.links[link]?.vfs?.first(where: { $0.index == index }) else { return nil }
        return DesiredObject(.vf(VFSettings(pf: pf, info: vf)))
    }
}

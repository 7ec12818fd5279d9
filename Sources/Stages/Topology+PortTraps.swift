import SwitchDriver
import SwitchModel

/// Kernel state on a chip port that the chip cannot express, as the reasons that keep the
/// port's ingress or egress on the CPU (`PortSettings.ingressTrap` / `.egressTrap`).
///
/// One mechanism for every such state (Docs/Offload.md, "Port traps"): the stage names
/// the state in words, the chip sends the affected direction to the CPU, and the kernel's
/// own path applies it.
extension Topology {
    func portTraps(of link: IfIndex) -> (ingress: String?, egress: String?) {
        var ingress: [String] = []
        var egress: [String] = []
        _ = link
        return (ingress.isEmpty ? nil : ingress.joined(separator: ", "), egress.isEmpty ? nil : egress.joined(separator: ", "))
    }
}

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
        trafficControlTraps(of: link, ingress: &ingress, egress: &egress)
        if let a = links[link]?.bridgePort, a.locked, bridge(of: link) != nil {
            // The chip has no per-port source-MAC authorisation: the kernel checks each frame.
            ingress.append("locked bridge port \(name(of: link))\(a.mab ? " with MAB" : ""): the kernel authorises source MACs")
        }
        return (ingress.isEmpty ? nil : ingress.joined(separator: ", "), egress.isEmpty ? nil : egress.joined(separator: ", "))
    }

    /// tc (`RTM_NEWQDISC`, `RTM_NEWTFILTER`): the chip runs no qdisc and no classifier.
    /// - a qdisc an operator added (handle ≠ 0: `tbf`, `htb`, `prio`, …) shapes, reorders
    ///   or drops what leaves the port → egress trapped;
    /// - an `ingress` qdisc is the hook of ingress filters → ingress trapped; a `clsact`
    ///   qdisc hooks both directions → both trapped. The hook itself decides, not the
    ///   filters seen: the kernel has no all-device filter dump, so filters present before
    ///   hoistd started are known only by their hook. Known filters name the reason.
    private func trafficControlTraps(of link: IfIndex, ingress: inout [String], egress: inout [String]) {
        guard let qdiscs = qdiscs[link] else { return }
        let name = name(of: link)
        let filters = (tcFilters[link] ?? [:]).values
        func filterKinds(ingress wanted: Bool) -> String? {
            let kinds = Set(filters.filter { $0.isIngress == wanted && !$0.kind.isEmpty }.map(\.kind)).sorted()
            return kinds.isEmpty ? nil : kinds.joined(separator: "/")
        }
        for q in qdiscs.values.sorted(by: { $0.key < $1.key }) {
            if q.isClassifierHook {
                if let kinds = filterKinds(ingress: true) {
                    ingress.append("tc ingress filter \(kinds) on \(name) not offloaded")
                } else {
                    ingress.append("tc \(q.kind) qdisc on \(name): its ingress filters are not offloaded")
                }
                guard q.kind == "clsact" else { continue }
                if let kinds = filterKinds(ingress: false) {
                    egress.append("tc egress filter \(kinds) on \(name) not offloaded")
                } else {
                    egress.append("tc clsact qdisc on \(name): its egress filters are not offloaded")
                }
            } else if !q.isDefault, q.parent == Qdisc.rootParent {
                egress.append("egress qdisc \(q.kind) on \(name) not offloaded")
            }
        }
    }
}

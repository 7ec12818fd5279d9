import SwitchDriver
import SwitchModel

/// Stage 1: front-panel ports. Every link whose name is a chip port becomes a port object
/// carrying its admin state, MTU, bridge and bridge-port attributes.
///
/// The kernel counterparts are the port netdev (`IFF_UP`, `IFLA_MTU`, `IFLA_MASTER`) and
/// its `IFLA_BRPORT_*` attributes — switchdev's `SWITCHDEV_ATTR_ID_PORT_*`. The stage
/// keeps no state of its own: a port is a function of the topology.
struct PortsStage: Sendable {
    func keys(of link: IfIndex, in topology: Topology, into keys: inout Set<HardwareKey>) {
        if let p = topology.portID(of: link) { keys.insert(.port(p)); keys.insert(.acl(p)) }
    }

    /// The port's ingress ACL: its tc ingress filters, when the chip applies them all and
    /// nothing else keeps the port's ingress on the CPU.
    func aclValue(of port: PortID, in topology: Topology) -> DesiredObject? {
        guard let index = topology.link(of: port), topology.links[index] != nil,
              case .rules(let rules) = topology.ingressACL(of: index), topology.portTraps(of: index).ingress == nil else { return nil }
        return DesiredObject(.acl(HardwarePortACL(port: port, rules: rules)))
    }

    /// A port in an offloaded bridge takes the bridge-port attributes; any other port is
    /// standalone (its traffic traps to the kernel), forwarding and not learning.
    func value(of port: PortID, in topology: Topology) -> DesiredObject? {
        guard let index = topology.link(of: port), let link = topology.links[index] else { return nil }
        var settings = PortSettings(port: port, adminUp: link.adminUp, mtu: link.mtu, learning: false)
        if let bridge = topology.bridge(of: index), topology.offloadedBridge(bridge) != nil {
            let a = link.bridgePort ?? BridgePortAttributes()
            settings.bridge = BridgeID(bridge: bridge)
            settings.stpState = a.state
            settings.learning = a.learning && topology.features.contains(.learning)
            settings.unicastFlood = a.unicastFlood
            settings.multicastFlood = a.multicastFlood
            settings.broadcastFlood = a.broadcastFlood
            settings.multicastRouter = a.multicastRouter == 2
            settings.isolated = a.isolated
            // A chip that checks source MACs itself enforces the lock; otherwise the port's
            // ingress is trapped (`Topology.portTraps`).
            if topology.features.contains(.lockedPorts) {
                settings.locked = a.locked
                settings.mab = a.locked && a.mab
            }
        }
        // Kernel state on the port that the chip cannot express keeps that direction of its
        // traffic on the CPU (Docs/Offload.md, "Port traps").
        let traps = topology.portTraps(of: index)
        settings.ingressTrap = traps.ingress
        settings.egressTrap = traps.egress
        if traps.ingress == nil, case .rules = topology.ingressACL(of: index) { settings.ingressACL = true }
        if port.isLAG {
            // What leaves a LAG leaves through a member: the members' egress traps are its own.
            let members = topology.slaves(of: index).compactMap { topology.portTraps(of: $0).egress }
            if !members.isEmpty { settings.egressTrap = ([traps.egress].compactMap { $0 } + members).joined(separator: ", ") }
        }
        return DesiredObject(.port(settings), trapReason: settings.trapReason)
    }
}

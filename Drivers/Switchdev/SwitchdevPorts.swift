import SwitchDriver
import SwitchModel

/// The switchdev ports of one namespace: links the kernel reports with a physical switch
/// id (`IFLA_PHYS_SWITCH_ID`, `ip -d link`'s `switchid`), numbered 1… in ifindex order.
/// Hoist's `PortID` N is the N-th such link; its name is the kernel's interface name
/// (`eth0` for a rocker port, whose `phys_port_name` is `sw1p1`).
///
/// The set is taken once, when the driver starts, and kept by name, as the stages key
/// ports: a port re-created under the same name (netdevsim after `devlink dev reload`)
/// stays the same port; a new name is not one of the driver's (restart hoistd).
public struct SwitchdevPorts: Hashable, Sendable {
    public struct Port: Hashable, Sendable {
        public var id: PortID
        /// The ifindex when the driver started (a re-created port gets another).
        public var index: IfIndex
        public var name: String
        /// `IFLA_PHYS_SWITCH_ID` as hex (`3412000000000000`).
        public var switchID: String
        /// `IFLA_PHYS_PORT_NAME` (`sw1p1`), when the driver reports one.
        public var portName: String?
    }

    public private(set) var ports: [Port] = []
    private var byName: [String: PortID] = [:]

    /// The switchdev ports among `links`; at most `PortID.lagBase` of them.
    public init<S: Sequence>(links: S) where S.Element == Link {
        let switchdev = links.filter(\.isSwitchdevPort).sorted { $0.index < $1.index }.prefix(Int(PortID.lagBase))
        for (n, link) in switchdev.enumerated() {
            let port = Port(id: PortID(UInt16(n + 1)), index: link.index, name: link.name,
                            switchID: link.physSwitchID ?? "", portName: link.physPortName)
            ports.append(port)
            byName[link.name] = port.id
        }
    }

    /// The port a kernel interface is (by name, among the switchdev links), if it is one of ours.
    public func port(of link: Link) -> PortID? { link.isSwitchdevPort ? byName[link.name] : nil }

    /// The port the interface `index` of `links` is, if it is one of ours.
    public func port(of index: IfIndex, in links: [IfIndex: Link]) -> PortID? { links[index].flatMap(port(of:)) }

    public func contains(_ port: PortID) -> Bool { port.rawValue >= 1 && Int(port.rawValue) <= ports.count }

    public func name(of port: PortID) -> String { contains(port) ? ports[Int(port.rawValue) - 1].name : port.description }

    /// The ports as the driver's capabilities list them.
    public var capabilityPorts: [DriverCapabilities.Port] { ports.map { .init(id: $0.id, name: $0.name) } }
}

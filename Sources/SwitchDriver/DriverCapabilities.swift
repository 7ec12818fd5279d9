/// What a driver's hardware can do: its ports, table sizes and features. Stages read it
/// to decide what to offload and what to keep on the CPU path.
///
/// The kernel counterparts are devlink resources (`devlink resource show`) and the
/// features a switchdev driver accepts.
public struct DriverCapabilities: Hashable, Sendable {
    /// A front-panel port and the host interface name it appears as (`swp1`).
    public struct Port: Hashable, Sendable {
        public var id: PortID
        public var name: String
        public init(id: PortID, name: String? = nil) {
            self.id = id
            self.name = name ?? id.description
        }
    }

    /// Optional features.
    public struct Features: OptionSet, Hashable, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let vlanFiltering = Features(rawValue: 1 << 0)
        /// 802.1ad (QinQ) bridges: S-tag VLAN protocol 0x88a8.
        public static let qinq = Features(rawValue: 1 << 1)
        public static let multicastSnooping = Features(rawValue: 1 << 2)
        public static let vxlan = Features(rawValue: 1 << 3)
        public static let ipv4Routing = Features(rawValue: 1 << 4)
        public static let ipv6Routing = Features(rawValue: 1 << 5)
        public static let ecmp = Features(rawValue: 1 << 6)
        public static let learning = Features(rawValue: 1 << 7)
        /// Port traps (`PortSettings.ingressTrap` / `.egressTrap`): the chip can send one
        /// direction of a port's traffic to the CPU. Without it (an observer, whose kernel
        /// driver decides itself), kernel state the stages would trap for is left to the
        /// kernel's driver.
        public static let portTraps = Features(rawValue: 1 << 9)
        /// Locked bridge ports (`PortSettings.locked` / `.mab`): the chip checks each frame's
        /// source MAC against its FDB itself. Without it, a driver with `portTraps` gets a
        /// locked port's ingress trapped (the kernel checks).
        public static let lockedPorts = Features(rawValue: 1 << 10)
        /// Several router interfaces on one binding (a port, a bridge VLAN), told apart by
        /// the destination MAC: a macvlan's over its lower's (the anycast gateway). Without
        /// it, frames to a macvlan's MAC go to the CPU.
        public static let routerMACs = Features(rawValue: 1 << 11)
        /// Link aggregation (`HardwareLAG`): a bond over chip ports is one logical port.
        /// Without it, a bond's slaves trap everything they receive (the kernel bonds).
        public static let lag = Features(rawValue: 1 << 12)
        /// An ingress ACL per port (`HardwarePortACL`: tc flower/matchall filters with
        /// `pass`, `drop`, `trap`). Without it, a filter on a port's ingress traps the port's
        /// ingress (the kernel classifies).
        public static let acl = Features(rawValue: 1 << 13)
        /// The switch features (not `sriov`).
        public static let all = Features(rawValue: 0xFF | 1 << 9 | 1 << 10 | 1 << 11 | 1 << 12 | 1 << 13)
        /// SR-IOV: the ports are physical functions whose VFs the stages map to `.vf` objects.
        public static let sriov = Features(rawValue: 1 << 8)
    }

    /// The driver's name, as `hoist show resources` prints it.
    public var name: String
    public var ports: [Port]
    /// Entries per table; a table absent here has no entries at all.
    public var tables: [TableKind: Int]
    public var features: Features
    /// The most members one ECMP group may have.
    public var maxECMPWidth: Int
    /// The most bridge domains.
    public var maxBridges: Int
    /// The most members one LAG may have.
    public var maxLAGMembers: Int
    /// Whether `apply` programs the hardware (an emulated chip, an SDK) — so the hardware
    /// then holds and reads back exactly what was applied. False for an *observer* such
    /// as the Switchdev driver, whose hardware the kernel's own driver programs from kernel
    /// objects: `apply` only accepts or refuses, and read-back shows what the kernel
    /// flags as in hardware. Conformance cases that need programming do not apply to it.
    public var programsHardware: Bool

    public init(name: String, ports: [Port], tables: [TableKind: Int], features: Features,
                maxECMPWidth: Int = 64, maxBridges: Int = 16, maxLAGMembers: Int = 0, programsHardware: Bool = true) {
        self.name = name
        self.ports = ports
        self.tables = tables
        self.features = features
        self.maxECMPWidth = maxECMPWidth
        self.maxBridges = maxBridges
        self.maxLAGMembers = maxLAGMembers
        self.programsHardware = programsHardware
    }

    public func capacity(_ table: TableKind) -> Int { tables[table] ?? 0 }
    public func port(named name: String) -> PortID? { ports.first { $0.name == name }?.id }
}

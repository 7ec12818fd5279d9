/// A devlink instance: `bus/name` (`netdevsim/netdevsim10`, `pci/0000:03:00.0`) —
/// `DEVLINK_ATTR_BUS_NAME` and `DEVLINK_ATTR_DEV_NAME`.
public struct DevlinkDevice: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var bus: String
    public var name: String

    public init(bus: String, name: String) {
        self.bus = bus
        self.name = name
    }

    /// Parses `bus/name`, as iproute2 writes it (everything after the first `/` is the name).
    public init?(_ handle: String) {
        guard let slash = handle.firstIndex(of: "/") else { return nil }
        bus = String(handle[..<slash])
        name = String(handle[handle.index(after: slash)...])
        guard !bus.isEmpty, !name.isEmpty else { return nil }
    }

    public var description: String { "\(bus)/\(name)" }
    public static func < (a: Self, b: Self) -> Bool { (a.bus, a.name) < (b.bus, b.name) }
}

/// A devlink port's flavour (`DEVLINK_ATTR_PORT_FLAVOUR`, enum `devlink_port_flavour`).
public struct DevlinkPortFlavour: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let physical = Self(rawValue: 0)
    public static let cpu = Self(rawValue: 1)
    public static let dsa = Self(rawValue: 2)
    public static let pciPF = Self(rawValue: 3)
    public static let pciVF = Self(rawValue: 4)
    public static let virtual = Self(rawValue: 5)
    public static let unused = Self(rawValue: 6)
    public static let pciSF = Self(rawValue: 7)

    /// iproute2's word for it (`physical`, `pcivf`, …).
    public var description: String {
        switch self {
        case .physical: "physical"
        case .cpu: "cpu"
        case .dsa: "dsa"
        case .pciPF: "pcipf"
        case .pciVF: "pcivf"
        case .virtual: "virtual"
        case .unused: "unused"
        case .pciSF: "pcisf"
        default: "flavour \(rawValue)"
        }
    }
}

/// One devlink port (`DEVLINK_CMD_PORT_GET` dump: `devlink port show`).
public struct DevlinkPort: Hashable, Sendable {
    public var device: DevlinkDevice
    /// `DEVLINK_ATTR_PORT_INDEX`.
    public var index: UInt32
    public var flavour: DevlinkPortFlavour
    /// The port's netdev (`DEVLINK_ATTR_PORT_NETDEV_IFINDEX` / `_NAME`), if it has one.
    public var netdevIndex: UInt32?
    public var netdevName: String?
    /// `DEVLINK_ATTR_PORT_PCI_PF_NUMBER` / `_VF_NUMBER` (PCI PF and VF flavours).
    public var pfNumber: UInt16?
    public var vfNumber: UInt16?

    public init(device: DevlinkDevice, index: UInt32, flavour: DevlinkPortFlavour, netdevIndex: UInt32? = nil,
                netdevName: String? = nil, pfNumber: UInt16? = nil, vfNumber: UInt16? = nil) {
        self.device = device
        self.index = index
        self.flavour = flavour
        self.netdevIndex = netdevIndex
        self.netdevName = netdevName
        self.pfNumber = pfNumber
        self.vfNumber = vfNumber
    }

    /// `bus/name/index`, iproute2's port handle.
    public var handle: String { "\(device)/\(index)" }
}

/// One devlink resource and its children (`DEVLINK_ATTR_RESOURCE` in
/// `DEVLINK_ATTR_RESOURCE_LIST` of `DEVLINK_CMD_RESOURCE_DUMP`: `devlink resource show DEV`).
public struct DevlinkResourceNode: Hashable, Sendable {
    public var name: String
    public var id: UInt64
    /// Entries it may hold; nil when unlimited (the kernel's `(u64)-1`, iproute2's "unlimited").
    public var size: UInt64?
    /// Entries in use (`DEVLINK_ATTR_RESOURCE_OCC`); nil when the driver does not count them.
    public var occupancy: UInt64?
    /// `DEVLINK_ATTR_RESOURCE_UNIT` (0: entry).
    public var unit: UInt8
    public var children: [DevlinkResourceNode]

    public init(name: String, id: UInt64 = 0, size: UInt64?, occupancy: UInt64?, unit: UInt8 = 0,
                children: [DevlinkResourceNode] = []) {
        self.name = name
        self.id = id
        self.size = size
        self.occupancy = occupancy
        self.unit = unit
        self.children = children
    }
}

/// A devlink eswitch mode (`DEVLINK_ATTR_ESWITCH_MODE`).
public struct DevlinkEswitchMode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let legacy = Self(rawValue: 0)
    public static let switchdev = Self(rawValue: 1)

    /// iproute2's word (`legacy`, `switchdev`).
    public var description: String {
        switch self {
        case .legacy: "legacy"
        case .switchdev: "switchdev"
        default: "mode \(rawValue)"
        }
    }
}

/// A devlink rate object (`DEVLINK_CMD_RATE_GET`: `devlink port function rate show`).
/// Rates are in **bytes per second**, as the kernel holds them: iproute2 turns `10mbit`
/// into 1,250,000 (1 Mbit/s = 125,000 B/s).
public struct DevlinkRate: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        /// The rate of a port function (`DEVLINK_RATE_TYPE_LEAF`, named by its port index).
        case leaf(port: UInt32)
        /// A rate group (`DEVLINK_RATE_TYPE_NODE`, `DEVLINK_ATTR_RATE_NODE_NAME`).
        case node(name: String)
    }

    public var device: DevlinkDevice
    public var kind: Kind
    public var txShare: UInt64
    public var txMax: UInt64
    public var parent: String?

    public init(device: DevlinkDevice, kind: Kind, txShare: UInt64, txMax: UInt64, parent: String? = nil) {
        self.device = device
        self.kind = kind
        self.txShare = txShare
        self.txMax = txMax
        self.parent = parent
    }

    /// `bus/name/index` for a leaf, `bus/name/node` for a node: iproute2's rate handle.
    public var handle: String {
        switch kind {
        case .leaf(let port): "\(device)/\(port)"
        case .node(let name): "\(device)/\(name)"
        }
    }

    /// Bytes per second in one Mbit/s.
    public static let bytesPerMbit: UInt64 = 125_000
}

import SwitchModel

/// A front-panel port of a switch chip, numbered from 1 (`swp1` is port 1), or a link
/// aggregation group: the logical port numbered `lagBase + n` (`lag<n>`), which bridges,
/// VLANs, FDB entries and router interfaces name like any port.
///
/// The kernel counterparts are a switchdev port netdev (one per front-panel port) and a
/// bond over such ports (mlxsw's LAG id).
public struct PortID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ value: UInt16) { self.rawValue = value }
    public init(integerLiteral value: UInt16) { self.rawValue = value }
    /// Front-panel ports are 1…`lagBase`; LAG `n` (1…64) is `lagBase + n`.
    public static let lagBase: UInt16 = 64
    /// LAG `n`, 1…64.
    public static func lag(_ n: UInt16) -> PortID { PortID(lagBase + n) }
    public var isLAG: Bool { rawValue > Self.lagBase }
    /// The port's conventional name, `swp<N>`, or `lag<N>`.
    public var description: String { isLAG ? "lag\(rawValue - Self.lagBase)" : "swp\(rawValue)" }
    public static func < (a: PortID, b: PortID) -> Bool { a.rawValue < b.rawValue }
}

/// A set of up to 64 front-panel ports and 64 LAGs as one bit mask (port N is bit N-1),
/// the way a chip holds flood and replication lists.
public struct PortSet: Hashable, Sendable, Sequence, CustomStringConvertible, ExpressibleByArrayLiteral {
    /// The largest port number a set can hold (the last LAG's).
    public static let maxPort: UInt16 = 128
    public var bits: UInt128

    public init(bits: UInt128 = 0) { self.bits = bits }
    public init(arrayLiteral elements: PortID...) { self.init(elements) }
    public init<S: Sequence>(_ ports: S) where S.Element == PortID {
        bits = 0
        for p in ports { insert(p) }
    }

    @inline(__always) public func contains(_ port: PortID) -> Bool {
        port.rawValue >= 1 && port.rawValue <= Self.maxPort && bits & (1 << UInt128(port.rawValue - 1)) != 0
    }
    @inline(__always) public mutating func insert(_ port: PortID) {
        precondition(port.rawValue >= 1 && port.rawValue <= Self.maxPort, "port out of range for a PortSet")
        bits |= 1 << UInt128(port.rawValue - 1)
    }
    @inline(__always) public mutating func remove(_ port: PortID) {
        guard port.rawValue >= 1 && port.rawValue <= Self.maxPort else { return }
        bits &= ~(1 << UInt128(port.rawValue - 1))
    }
    public var isEmpty: Bool { bits == 0 }
    public var count: Int { bits.nonzeroBitCount }
    public static func & (a: PortSet, b: PortSet) -> PortSet { PortSet(bits: a.bits & b.bits) }
    public static func | (a: PortSet, b: PortSet) -> PortSet { PortSet(bits: a.bits | b.bits) }
    public func subtracting(_ other: PortSet) -> PortSet { PortSet(bits: bits & ~other.bits) }

    public struct Iterator: IteratorProtocol {
        var rest: UInt128
        public mutating func next() -> PortID? {
            guard rest != 0 else { return nil }
            let bit = rest.trailingZeroBitCount
            rest &= rest - 1
            return PortID(UInt16(bit + 1))
        }
    }
    public func makeIterator() -> Iterator { Iterator(rest: bits) }
    public var description: String { "[" + map(\.description).joined(separator: ",") + "]" }
}

/// A bridge instance in the chip (an 802.1Q or 802.1D bridge domain). Stages use the
/// kernel bridge's interface index as its id.
///
/// The kernel counterpart is a bridge netdev (`IFLA_INFO_KIND` `bridge`).
public struct BridgeID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(integerLiteral value: UInt32) { self.rawValue = value }
    public var description: String { "bridge \(rawValue)" }
    public static func < (a: BridgeID, b: BridgeID) -> Bool { a.rawValue < b.rawValue }
}

/// A router interface (RIF): the L3 attachment of a port or of a bridge VLAN. Stages use
/// the interface index of the kernel netdev that carries the addresses.
public struct RouterInterfaceID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(integerLiteral value: UInt32) { self.rawValue = value }
    public var description: String { "rif \(rawValue)" }
    public static func < (a: RouterInterfaceID, b: RouterInterfaceID) -> Bool { a.rawValue < b.rawValue }
}

/// An ECMP group. Kernel nexthop groups keep their kernel id; groups made for routes with
/// inline multipath nexthops get ids from the stage (at or above `synthesizedBase`, from a
/// stable hash of the member list; shown in hex: `ecmp group #3fa2c1d0`).
///
/// The kernel counterpart is a nexthop object with `NHA_GROUP`, or `RTA_MULTIPATH`.
public struct NexthopGroupID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(integerLiteral value: UInt32) { self.rawValue = value }
    public static let synthesizedBase: UInt32 = 0x8000_0000
    public var description: String {
        rawValue >= Self.synthesizedBase ? "ecmp group #" + String(rawValue - Self.synthesizedBase, radix: 16) : "nexthop group \(rawValue)"
    }
    public static func < (a: NexthopGroupID, b: NexthopGroupID) -> Bool { a.rawValue < b.rawValue }
}

/// A VXLAN network identifier, 24 bits.
public typealias VNI = UInt32

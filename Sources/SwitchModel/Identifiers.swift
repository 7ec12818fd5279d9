/// A kernel interface index.
///
/// The kernel counterpart is `ifi_index` in `struct ifinfomsg` (and `IFLA_MASTER`,
/// `NDA_IFINDEX`, `RTA_OIF`, which carry one).
public struct IfIndex: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ value: UInt32) { self.rawValue = value }
    public init(integerLiteral value: UInt32) { self.rawValue = value }
    public var description: String { String(rawValue) }
    public static func < (lhs: IfIndex, rhs: IfIndex) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// An IEEE 802.1Q VLAN identifier, 0…4095. VID 0 means "no VLAN" (priority tagged or
/// untagged); 4095 is reserved.
///
/// The kernel counterpart is `NDA_VLAN`, `bridge_vlan_info.vid`, `br_mdb_entry.vid`.
public struct VLANID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public let rawValue: UInt16
    public init?(rawValue: UInt16) {
        guard rawValue <= 4095 else { return nil }
        self.rawValue = rawValue
    }
    public init(integerLiteral value: UInt16) {
        precondition(value <= 4095, "VLAN ID out of range")
        self.rawValue = value
    }
    /// VID 0: untagged or priority-tagged.
    public static let none: VLANID = 0
    public var description: String { String(rawValue) }
    public static func < (lhs: VLANID, rhs: VLANID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A routing table id. `main` is 254, `local` 255.
///
/// The kernel counterpart is `RTA_TABLE` (or `rtm_table` below 256).
public struct RouteTable: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(integerLiteral value: UInt32) { self.rawValue = value }
    public static let main: RouteTable = 254
    public static let local: RouteTable = 255
    public static let `default`: RouteTable = 253
    /// iproute2's names for the reserved tables, the number otherwise.
    public var description: String {
        switch rawValue {
        case 254: "main"
        case 255: "local"
        case 253: "default"
        default: String(rawValue)
        }
    }
    public static func < (lhs: RouteTable, rhs: RouteTable) -> Bool { lhs.rawValue < rhs.rawValue }
}

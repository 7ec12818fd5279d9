/// A nexthop object (`ip nexthop`): a single path, or a group of other nexthop objects
/// that routes reference by id (`RTA_NH_ID`).
///
/// The kernel counterpart is `RTM_NEWNEXTHOP` (`struct nhmsg` with `NHA_ID`, `NHA_GROUP`,
/// `NHA_GROUP_TYPE`, `NHA_BLACKHOLE`, `NHA_OIF`, `NHA_GATEWAY`, `NHA_FDB`).
public struct NexthopObject: Hashable, Sendable {
    public var id: UInt32
    /// `nh_family`; nil (`AF_UNSPEC`) for groups and blackholes without a family.
    public var family: AddressFamily?
    public var gateway: IPAddress?
    public var interface: IfIndex?
    public var blackhole: Bool
    /// `NHA_FDB`: usable only by FDB entries (VXLAN remotes), not by routes.
    public var fdb: Bool
    /// The members of a group; empty for a single nexthop.
    public var group: [Member]
    /// `NHA_GROUP_TYPE`: 0 multipath (hash-threshold), 1 resilient.
    public var groupType: UInt16
    public var protocolID: RouteProtocol
    public var scope: RouteScope
    /// `nh_flags` (`RTNH_F_*`).
    public var flags: UInt32

    /// One member of a nexthop group (`struct nexthop_grp`).
    public struct Member: Hashable, Sendable {
        public var id: UInt32
        /// The weight, 1…256 (the kernel sends weight − 1).
        public var weight: UInt16
        public init(id: UInt32, weight: UInt16 = 1) {
            self.id = id
            self.weight = weight
        }
    }

    public init(id: UInt32, family: AddressFamily? = nil, gateway: IPAddress? = nil, interface: IfIndex? = nil,
                blackhole: Bool = false, fdb: Bool = false, group: [Member] = [], groupType: UInt16 = 0,
                protocolID: RouteProtocol = .boot, scope: RouteScope = .universe, flags: UInt32 = 0) {
        self.id = id
        self.family = family
        self.gateway = gateway
        self.interface = interface
        self.blackhole = blackhole
        self.fdb = fdb
        self.group = group
        self.groupType = groupType
        self.protocolID = protocolID
        self.scope = scope
        self.flags = flags
    }

    public var isGroup: Bool { !group.isEmpty }
}

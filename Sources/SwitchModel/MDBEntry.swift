/// One multicast group membership of a bridge port, as `bridge mdb show` lists it.
///
/// The kernel counterpart is `RTM_NEWMDB` with `struct br_port_msg` (the bridge) and a
/// `MDBA_MDB_ENTRY_INFO` (`struct br_mdb_entry`: port, state, flags, vid, group).
public struct MDBEntry: Hashable, Sendable {
    public var key: Key
    /// `MDB_PERMANENT` (configured) or temporary (snooped, times out).
    public var permanent: Bool
    /// `br_mdb_entry.flags` (`MDB_FLAGS_OFFLOAD`, `MDB_FLAGS_FAST_LEAVE`, …).
    public var flags: UInt8
    /// `MDBA_MDB_EATTR_RTPROT`: who installed it (`RTPROT_KERNEL` for snooped entries); nil if unreported.
    public var protocolID: UInt8?
    /// `MDBA_MDB_EATTR_GROUP_MODE`: an IGMPv3/MLDv2 port group's filter mode, `MCAST_EXCLUDE`
    /// (0) or `MCAST_INCLUDE` (1); nil when unreported (IGMPv2/MLDv1, configured entries).
    public var filterMode: UInt8?
    /// How many sources `MDBA_MDB_EATTR_SRC_LIST` lists for the port group (0 when none).
    public var sourceCount: Int

    /// The entry filters by source: an (S,G) entry, an INCLUDE-mode group, or a source
    /// list. Only EXCLUDE with no sources (the IGMPv2/MLDv1 equivalent) forwards by group alone.
    public var filtersSources: Bool {
        key.source != nil || (filterMode ?? 0) != 0 || sourceCount > 0
    }

    public struct Key: Hashable, Sendable, Comparable {
        public var bridge: IfIndex
        public var port: IfIndex
        public var group: MDBGroup
        public var vlan: VLANID
        /// `MDBA_MDB_EATTR_SOURCE`: the source of an (S,G) entry; nil for (*,G).
        public var source: IPAddress?

        public init(bridge: IfIndex, port: IfIndex, group: MDBGroup, vlan: VLANID = .none, source: IPAddress? = nil) {
            self.bridge = bridge
            self.port = port
            self.group = group
            self.vlan = vlan
            self.source = source
        }

        public static func < (a: Key, b: Key) -> Bool {
            (a.bridge, a.port, a.group.sortKey, a.vlan) < (b.bridge, b.port, b.group.sortKey, b.vlan)
        }
    }

    public init(key: Key, permanent: Bool = false, flags: UInt8 = 0, protocolID: UInt8? = nil,
                filterMode: UInt8? = nil, sourceCount: Int = 0) {
        self.key = key
        self.permanent = permanent
        self.flags = flags
        self.protocolID = protocolID
        self.filterMode = filterMode
        self.sourceCount = sourceCount
    }
}

/// A multicast group: an IP group (IGMP/MLD snooping) or an L2 group address.
///
/// The kernel counterpart is `br_mdb_entry.addr` (`proto` `ETH_P_IP`, `ETH_P_IPV6`, or 0 for L2).
public enum MDBGroup: Hashable, Sendable, CustomStringConvertible {
    case ip(IPAddress)
    case mac(MACAddress)

    public var description: String {
        switch self {
        case .ip(let a): a.description
        case .mac(let m): m.description
        }
    }

    var sortKey: IPAddress {
        switch self {
        case .ip(let a): a
        case .mac(let m): IPAddress(high: 1 << 63, low: m.rawValue)
        }
    }
}

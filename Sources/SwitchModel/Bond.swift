/// A bond device's settings that decide where it sends and what it receives
/// (`IFLA_INFO_DATA` of kind `bond`, `IFLA_BOND_*`; `ip -d link show` prints them).
public struct BondAttributes: Hashable, Sendable {
    /// `IFLA_BOND_MODE` (`BOND_MODE_*`).
    public var mode: BondMode
    /// `IFLA_BOND_XMIT_HASH_POLICY`: how balance-xor and 802.3ad pick a slave.
    public var hashPolicy: BondHashPolicy
    /// `IFLA_BOND_ACTIVE_SLAVE`: the slave active-backup sends through (reported only in
    /// the modes that have one, and only while there is one).
    public var activeSlave: IfIndex?
    /// `IFLA_BOND_AD_INFO_AGGREGATOR`: 802.3ad's active aggregator, nil when none is.
    public var activeAggregator: UInt16?
    /// `IFLA_BOND_ALL_SLAVES_ACTIVE`: frames arriving on inactive slaves are delivered too.
    public var allSlavesActive: Bool
    /// The slaves' names in the bond's order, which its transmit hash indexes. Netlink
    /// does not report it: the mirror reads it from `/proc/net/bonding/NAME`; nil when it
    /// could not.
    public var slaves: [String]?

    public init(mode: BondMode = .balanceRR, hashPolicy: BondHashPolicy = .layer2, activeSlave: IfIndex? = nil,
                activeAggregator: UInt16? = nil, allSlavesActive: Bool = false) {
        self.mode = mode
        self.hashPolicy = hashPolicy
        self.activeSlave = activeSlave
        self.activeAggregator = activeAggregator
        self.allSlavesActive = allSlavesActive
    }
}

/// A slave's state in its bond (`IFLA_INFO_SLAVE_DATA` of slave kind `bond`,
/// `IFLA_BOND_SLAVE_*`): the kernel sends a slave's `RTM_NEWLINK` when it changes.
public struct BondSlaveAttributes: Hashable, Sendable {
    /// `IFLA_BOND_SLAVE_STATE`: active (0) or backup (1) — `bond_is_active_slave`.
    public var active: Bool
    /// `IFLA_BOND_SLAVE_MII_STATUS`: the bond's view of the slave's link (`BOND_LINK_UP` is 0).
    public var miiUp: Bool
    /// `IFLA_BOND_SLAVE_AD_AGGREGATOR_ID`: the 802.3ad aggregator the slave is attached to.
    public var aggregator: UInt16?

    public init(active: Bool = true, miiUp: Bool = true, aggregator: UInt16? = nil) {
        self.active = active
        self.miiUp = miiUp
        self.aggregator = aggregator
    }
}

/// `BOND_MODE_*`, with iproute2's words.
public enum BondMode: UInt8, Hashable, Sendable, CustomStringConvertible {
    case balanceRR = 0, activeBackup = 1, balanceXOR = 2, broadcast = 3, lacp = 4, balanceTLB = 5, balanceALB = 6

    public var description: String {
        switch self {
        case .balanceRR: "balance-rr"
        case .activeBackup: "active-backup"
        case .balanceXOR: "balance-xor"
        case .broadcast: "broadcast"
        case .lacp: "802.3ad"
        case .balanceTLB: "balance-tlb"
        case .balanceALB: "balance-alb"
        }
    }
}

/// `BOND_XMIT_POLICY_*`, with iproute2's words.
public enum BondHashPolicy: UInt8, Hashable, Sendable, CustomStringConvertible {
    case layer2 = 0, layer34 = 1, layer23 = 2, encap23 = 3, encap34 = 4, vlanSrcMAC = 5

    public var description: String {
        switch self {
        case .layer2: "layer2"
        case .layer34: "layer3+4"
        case .layer23: "layer2+3"
        case .encap23: "encap2+3"
        case .encap34: "encap3+4"
        case .vlanSrcMAC: "vlan+srcmac"
        }
    }
}

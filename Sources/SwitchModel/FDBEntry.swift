/// One bridge forwarding-database entry, as `bridge fdb show` lists it.
///
/// The kernel counterpart is an `AF_BRIDGE` `RTM_NEWNEIGH` (`struct ndmsg` with `NDA_LLADDR`,
/// `NDA_VLAN`, `NDA_MASTER`, `NDA_DST`, `NDA_VNI`, `NDA_PORT`). Entries on a VXLAN device
/// also carry the remote VTEP; several all-zeros entries with different destinations form
/// the head-end replication (flood) list.
public struct FDBEntry: Hashable, Sendable {
    public var key: Key
    /// `NDA_MASTER`: the bridge, for entries in the bridge's own FDB.
    public var master: IfIndex?
    /// The `NUD_*` state: `permanent` (local), `static` (noarp) or dynamic (reachable/stale).
    public var state: FDBState
    public var flags: FDBFlags
    /// `NDA_PORT`: the remote UDP port, when not the device's default.
    public var remotePort: UInt16?

    /// The identity of an entry: the kernel treats two entries as the same when all of
    /// these match (for `NTF_SELF` entries on a VXLAN device the remote is part of it).
    public struct Key: Hashable, Sendable, Comparable {
        public var port: IfIndex
        public var mac: MACAddress
        public var vlan: VLANID
        /// True for entries of the device itself (`NTF_SELF`), false for the bridge's (`NTF_MASTER`).
        public var isSelf: Bool
        /// `NDA_DST`: the remote VTEP.
        public var remote: IPAddress?
        /// `NDA_VNI`, when the entry names one.
        public var vni: UInt32?

        public init(port: IfIndex, mac: MACAddress, vlan: VLANID = .none, isSelf: Bool = false,
                    remote: IPAddress? = nil, vni: UInt32? = nil) {
            self.port = port
            self.mac = mac
            self.vlan = vlan
            self.isSelf = isSelf
            self.remote = remote
            self.vni = vni
        }

        public static func < (a: Key, b: Key) -> Bool {
            (a.port, a.mac, a.vlan, a.isSelf ? 1 : 0) < (b.port, b.mac, b.vlan, b.isSelf ? 1 : 0)
                || ((a.port, a.mac, a.vlan, a.isSelf ? 1 : 0) == (b.port, b.mac, b.vlan, b.isSelf ? 1 : 0)
                    && (a.remote ?? .anyIPv6, a.vni ?? 0) < (b.remote ?? .anyIPv6, b.vni ?? 0))
        }
    }

    /// `extern_learn` and `offload` together: a driver wrote the entry back from what its
    /// hardware learned (a switchdev driver's `SWITCHDEV_FDB_ADD_TO_BRIDGE`, hoistd's
    /// write-back). Entries FRR or an operator install are `extern_learn` alone, or neither.
    /// (The bridge's own entries never keep an `offload` from user space; vxlan device
    /// entries do.)
    public var isDriverWriteBack: Bool { flags.contains(.externLearn) && flags.contains(.offload) }

    public init(key: Key, master: IfIndex? = nil, state: FDBState = .dynamic, flags: FDBFlags = [],
                remotePort: UInt16? = nil) {
        self.key = key
        self.master = master
        self.state = state
        self.flags = flags
        self.remotePort = remotePort
    }
}

/// How an FDB entry was made, from its `ndm_state`.
public enum FDBState: Hashable, Sendable, CustomStringConvertible {
    /// `NUD_PERMANENT`: a local address of the bridge or port; never forwarded out.
    case permanent
    /// `NUD_NOARP`: configured by the operator (`bridge fdb add … static`).
    case `static`
    /// Learned from traffic, or added as dynamic; it ages.
    case dynamic
    /// `NUD_STALE`: learned, then aged past its use.
    case stale

    /// Maps the kernel's `ndm_state` bits (`NUD_*`).
    public init(ndmState: UInt16) {
        if ndmState & 0x80 != 0 { self = .permanent }
        else if ndmState & 0x40 != 0 { self = .static }
        else if ndmState & 0x04 != 0 { self = .stale }
        else { self = .dynamic }
    }

    /// iproute2's `state` field in `bridge -j fdb show` ("" for dynamic entries).
    public var description: String {
        switch self {
        case .permanent: "permanent"
        case .static: "static"
        case .dynamic: ""
        case .stale: "stale"
        }
    }
}

/// FDB entry flags.
///
/// The kernel counterparts are the `ndm_flags` bits (`NTF_*`) and `NDA_FLAGS_EXT`.
public struct FDBFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// `NTF_USE`-less `NTF_SELF`: the entry lives in the device's own table.
    public static let `self` = FDBFlags(rawValue: 1 << 0)
    /// `NTF_MASTER`: the entry lives in the bridge's FDB.
    public static let master = FDBFlags(rawValue: 1 << 1)
    /// `NTF_EXT_LEARNED`: learned by hardware and written back by a driver.
    public static let externLearn = FDBFlags(rawValue: 1 << 2)
    /// `NTF_OFFLOADED`: programmed into hardware.
    public static let offload = FDBFlags(rawValue: 1 << 3)
    /// `NTF_STICKY`: never moves to another port.
    public static let sticky = FDBFlags(rawValue: 1 << 4)
    /// `NTF_ROUTER`.
    public static let router = FDBFlags(rawValue: 1 << 5)
    /// `NTF_EXT_LOCKED` in `NDA_FLAGS_EXT` (Linux 6.2, MAB): the bridge created the entry
    /// for an unauthorised host behind a locked port, for user space to authorise.
    public static let locked = FDBFlags(rawValue: 1 << 6)

    /// The flags as iproute2 names them in `bridge -j fdb show`, in its order.
    public var names: [String] {
        var out: [String] = []
        if contains(.self) { out.append("self") }
        if contains(.router) { out.append("router") }
        if contains(.externLearn) { out.append("extern_learn") }
        if contains(.offload) { out.append("offload") }
        if contains(.master) { out.append("master") }
        if contains(.sticky) { out.append("sticky") }
        if contains(.locked) { out.append("locked") }
        return out
    }
}

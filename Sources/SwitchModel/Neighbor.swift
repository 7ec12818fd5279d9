/// An IPv4 (ARP) or IPv6 (ND) neighbour entry.
///
/// The kernel counterpart is an `AF_INET`/`AF_INET6` `RTM_NEWNEIGH` (`struct ndmsg`,
/// `NDA_DST`, `NDA_LLADDR`).
public struct Neighbor: Hashable, Sendable {
    public var key: Key
    /// `NDA_LLADDR`; nil while unresolved (`INCOMPLETE`, `FAILED`).
    public var lladdr: MACAddress?
    /// `ndm_state` (`NUD_*` bits).
    public var state: NeighborState
    /// `ndm_flags` (`NTF_ROUTER`, `NTF_EXT_LEARNED`, `NTF_OFFLOADED`, …).
    public var flags: UInt8

    public struct Key: Hashable, Sendable, Comparable {
        public var interface: IfIndex
        public var address: IPAddress
        public init(interface: IfIndex, address: IPAddress) {
            self.interface = interface
            self.address = address
        }
        public static func < (a: Key, b: Key) -> Bool { (a.interface, a.address) < (b.interface, b.address) }
    }

    public init(key: Key, lladdr: MACAddress? = nil, state: NeighborState = .reachable, flags: UInt8 = 0) {
        self.key = key
        self.lladdr = lladdr
        self.state = state
        self.flags = flags
    }

    /// True when the entry can be used to forward: it has a link-layer address and is not failed.
    public var isResolved: Bool { lladdr != nil && state.isValid }
    public var isRouter: Bool { flags & 0x80 != 0 }
}

/// A neighbour's NUD state bits.
///
/// The kernel counterpart is `ndm_state` (`NUD_INCOMPLETE` … `NUD_PERMANENT`).
public struct NeighborState: OptionSet, Hashable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let incomplete = NeighborState(rawValue: 0x01)
    public static let reachable = NeighborState(rawValue: 0x02)
    public static let stale = NeighborState(rawValue: 0x04)
    public static let delay = NeighborState(rawValue: 0x08)
    public static let probe = NeighborState(rawValue: 0x10)
    public static let failed = NeighborState(rawValue: 0x20)
    public static let noarp = NeighborState(rawValue: 0x40)
    public static let permanent = NeighborState(rawValue: 0x80)

    /// States in which the link-layer address may be used (`NUD_VALID`).
    public var isValid: Bool { !intersection([.permanent, .noarp, .reachable, .probe, .stale, .delay]).isEmpty }

    /// iproute2's upper-case names, in its order (`["REACHABLE"]`, `["NOARP"]`, …).
    public var names: [String] {
        let table: [(NeighborState, String)] = [
            (.incomplete, "INCOMPLETE"), (.reachable, "REACHABLE"), (.stale, "STALE"), (.delay, "DELAY"),
            (.probe, "PROBE"), (.failed, "FAILED"), (.noarp, "NOARP"), (.permanent, "PERMANENT"),
        ]
        let out = table.filter { contains($0.0) }.map(\.1)
        return out.isEmpty ? ["NONE"] : out
    }
}

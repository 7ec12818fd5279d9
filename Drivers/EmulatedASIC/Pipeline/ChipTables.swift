import SwitchDriver
import SwitchModel

/// One front-panel port as the chip holds it.
struct PortState {
    var configured = false
    var adminUp = false
    /// Link (oper) state; the packet I/O layer or a test sets it.
    var linkUp = true
    var mtu: UInt32 = 1500
    /// Bridge slot, or -1 for a standalone port.
    var bridge = -1
    var stp: STPState = .forwarding
    var learning = true
    var unicastFlood = true
    var multicastFlood = true
    var broadcastFlood = true
    var multicastRouter = false
    var isolated = false
    /// Source MACs must be authorised by an FDB entry on the port (`PortSettings.locked`);
    /// with `mab`, unknown ones go to the CPU (the kernel adds a locked entry).
    var locked = false
    var mab = false
    /// Every frame arriving on the port goes to the CPU (`PortSettings.ingressTrap`).
    var trapIngress = false
    /// A frame the chip would send out of the port goes whole to the CPU instead
    /// (`PortSettings.egressTrap`).
    var trapEgress = false
    /// Frames arriving here are classified by the port's ACL (`SwitchChip.acls`), or go to
    /// the CPU while it has none (`PortSettings.ingressACL`).
    var aclRequired = false
    /// The VLAN untagged frames join on a VLAN-filtering bridge; 0 = none.
    var pvid: UInt16 = 0
    /// Router interface index of a routed port, or -1.
    var rif: Int32 = -1
    /// A LAG member: the LAG's logical port number (0: none), and whether frames arriving
    /// here enter the LAG (`HardwareLAG.collecting`).
    var lag = 0
    var collecting = false
    var settings: PortSettings?
}

/// One VLAN of a bridge: members, egress tagging, the router interface and tunnel.
struct VLANEntry {
    var members = PortSet()
    var untagged = PortSet()
    var rif: Int32 = -1
    var tunnel: Int32 = -1
}

/// A bridge domain: plain values only, so the data path reads it without reference
/// counting. Its VLAN table is `SwitchChip.vlanTables[slot]` (one entry, VID 0, without
/// VLAN filtering; 4,096 with it).
struct BridgeState {
    var settings: BridgeSettings
    var ports = PortSet()
    /// From when (chip clock, ns) the kernel counts on the bridge as its own querier, for
    /// IPv4 and for IPv6; nil while it is not one (`BridgeSettings.ownQuerier`).
    var ownQuerierSettles: (ipv4: UInt64?, ipv6: UInt64?) = (nil, nil)
    /// Until when (chip clock, ns) a query heard from another querier may keep the kernel
    /// flooding group traffic (its `other_query.delay_timer`), per family.
    var heardQueryUntil: (ipv4: UInt64, ipv6: UInt64) = (0, 0)

    @inline(__always) func vlanIndex(_ vid: UInt16) -> Int { settings.vlanFiltering ? Int(vid) : 0 }
}

struct RouterInterfaceState {
    var object: RouterInterface
    var refs = 0
}

struct NexthopState {
    var object: HardwareNexthop
    var rif: Int32
    var mac: UInt64 = 0
    var resolved = false
    var refs = 0
}

struct GroupState {
    var object: HardwareNexthopGroup
    /// Nexthop indices, each repeated by weight: the hash picks one slot.
    var slots: [Int32]
    var refs = 0
}

/// A remote VTEP that FDB entries point at, counted by its users.
struct RemoteState {
    var tunnel: Int32
    var address: IPAddress
    var refs: Int
}

struct TunnelState {
    var object: VXLANTunnel
    var bridge: Int
    var flood: [IPAddress] = []
}

/// Where a further router interface is bound, and its MAC (`SwitchChip.routerMACs`).
/// `domain`: a routed port's index, or 65,536 × (bridge slot + 1) + the VLAN index.
struct RouterMACKey: Hashable {
    var domain: Int
    var mac: UInt64

    static func port(_ p: Int, _ mac: UInt64) -> RouterMACKey { RouterMACKey(domain: p, mac: mac) }
    static func vlan(_ slot: Int, _ vlanIndex: Int, _ mac: UInt64) -> RouterMACKey {
        RouterMACKey(domain: (slot + 1) << 16 | vlanIndex, mac: mac)
    }
}

/// A neighbour table key: router interface index and address.
struct NeighborKey: Hashable {
    var rif: Int32
    var address: IPAddress
}

/// A multicast group key in one bridge VLAN.
struct MDBKey: Hashable {
    var bridge: Int
    var vid: UInt16
    var group: MDBGroup
}

/// How an LPM value encodes a route's action: 2 kind bits over a 29-bit payload.
enum RouteValue {
    static let nexthopKind: UInt32 = 0
    static let groupKind: UInt32 = 1
    static let attachedKind: UInt32 = 2
    static let specialKind: UInt32 = 3
    static let payloadMask: UInt32 = (1 << 29) - 1

    @inline(__always) static func make(_ kind: UInt32, _ payload: UInt32) -> UInt32 { kind << 29 | payload }
    @inline(__always) static func kind(_ v: UInt32) -> UInt32 { v >> 29 }
    @inline(__always) static func payload(_ v: UInt32) -> UInt32 { v & payloadMask }
    /// Payload 0 of the special kind is `drop`; 1 + n is trap reason n.
    static func trap(_ reason: TrapReason) -> UInt32 {
        make(specialKind, UInt32(TrapReason.allCases.firstIndex(of: reason)! + 1))
    }
    static let drop = make(specialKind, 0)
    /// A local-table address (`TrapReason.localAddress`).
    static let localAddress = trap(.localAddress)
}

/// How an FDB destination is encoded in the MAC table.
enum FDBValue {
    static let tunnelFlag: UInt32 = 0x4000_0000
    static let cpu: UInt32 = 0x7FFF_FFFF
    @inline(__always) static func port(_ p: Int) -> UInt32 { UInt32(p) }
    @inline(__always) static func isPort(_ v: UInt32) -> Bool { v < tunnelFlag }
    @inline(__always) static func isTunnel(_ v: UInt32) -> Bool { v & tunnelFlag != 0 && v != cpu }
}

/// Indexed slots with a free list: O(1) insert and remove, stable indices (what hardware
/// tables hand out as entry ids).
struct Slots<Element> {
    private(set) var items: [Element?] = []
    private var free: [Int] = []

    /// Stores `element` in a free slot and returns its index.
    mutating func insert(_ element: Element) -> Int {
        if let i = free.popLast() {
            items[i] = element
            return i
        }
        items.append(element)
        return items.count - 1
    }

    mutating func remove(at index: Int) {
        guard items[index] != nil else { return }
        items[index] = nil
        free.append(index)
    }

    @inline(__always) subscript(index: Int) -> Element? {
        get { items[index] }
        set {
            precondition(newValue != nil || items[index] == nil, "use remove(at:) to free a slot")
            items[index] = newValue
        }
    }

    /// The occupied slots.
    var elements: [Element] { items.compactMap { $0 } }
}

import Stages
import SwitchDriver
import SwitchModel

// Small builders for model objects. Interface indexes: lo 1, eth0 2 (management),
// swpN 10+N, veth0 50, vxlan100 60, br0 100, br1 101.

/// A chip with ports swp1…swp8, every feature, and ECMP groups of at most 4.
func testCapabilities(features: DriverCapabilities.Features = .all, maxECMPWidth: Int = 4) -> DriverCapabilities {
    DriverCapabilities(name: "test", ports: (1...8).map { DriverCapabilities.Port(id: PortID($0)) },
                       tables: [:], features: features, maxECMPWidth: maxECMPWidth)
}

func ip(_ text: String) -> IPAddress {
    guard let a = IPAddress(text) else { preconditionFailure("bad address \(text)") }
    return a
}

func prefix(_ text: String) -> IPPrefix {
    guard let p = IPPrefix(text) else { preconditionFailure("bad prefix \(text)") }
    return p
}

func mac(_ text: String) -> MACAddress {
    guard let m = MACAddress(text) else { preconditionFailure("bad MAC \(text)") }
    return m
}

let lo: IfIndex = 1
let eth0: IfIndex = 2
let veth0: IfIndex = 50
let vxlan100: IfIndex = 60
let br0: IfIndex = 100
let br1: IfIndex = 101

/// The ifindex of swpN.
func swp(_ n: UInt32) -> IfIndex { IfIndex(10 + n) }

/// swpN, up, MAC 02:00:00:00:01:0N; a bridge port (default attributes) when it has a master.
func chipPort(_ n: UInt32, master: IfIndex? = nil, attributes: BridgePortAttributes? = nil, mtu: UInt32 = 1500) -> Link {
    Link(index: swp(n), name: "swp\(n)", kind: .tap, adminUp: true, operState: .up, mtu: mtu,
         mac: MACAddress(rawValue: 0x0200_0000_0100 + UInt64(n)), master: master,
         bridgePort: master == nil ? nil : attributes ?? BridgePortAttributes())
}

func bridgeLink(_ index: IfIndex = br0, name: String = "br0", filtering: Bool? = nil, protocol proto: UInt16? = nil,
                snooping: Bool? = nil) -> Link {
    Link(index: index, name: name, kind: .bridge, adminUp: true, operState: .up,
         mac: MACAddress(rawValue: 0x0200_0000_0F00 + UInt64(index.rawValue)),
         bridge: BridgeAttributes(vlanFiltering: filtering, vlanProtocol: proto, multicastSnooping: snooping))
}

func otherLink(_ index: IfIndex, _ name: String, kind: LinkKind = .veth, master: IfIndex? = nil) -> Link {
    Link(index: index, name: name, kind: kind, adminUp: true, operState: .up,
         mac: MACAddress(rawValue: 0x0200_0000_0E00 + UInt64(index.rawValue)), master: master,
         bridgePort: master == nil ? nil : BridgePortAttributes())
}

func vxlanLink(vni: UInt32? = 100, local: String? = "192.0.2.1", master: IfIndex? = br0) -> Link {
    Link(index: vxlan100, name: "vxlan100", kind: .vxlan, adminUp: true, operState: .up,
         mac: mac("02:00:00:00:0d:64"), master: master, bridgePort: master == nil ? nil : BridgePortAttributes(),
         vxlan: VXLANAttributes(vni: vni, local: local.map(ip), port: 4789, learning: false, ttl: 64))
}

func vlan(_ port: IfIndex, _ vid: VLANID, pvid: Bool = false, untagged: Bool = false) -> BridgeVLAN {
    BridgeVLAN(port: port, vlan: PortVLAN(vid: vid, pvid: pvid, untagged: untagged))
}

/// A bridge FDB entry (`… master br0`).
func fdb(_ port: IfIndex, _ address: String, vlan: VLANID = .none, master: IfIndex? = br0, state: FDBState = .dynamic,
         flags: FDBFlags = []) -> FDBEntry {
    FDBEntry(key: FDBEntry.Key(port: port, mac: mac(address), vlan: vlan), master: master, state: state, flags: flags)
}

/// A vxlan device FDB entry (`bridge fdb append … dev vxlan100 dst …`).
func vxlanFDB(_ address: String, remote: String, vni: UInt32? = nil, state: FDBState = .permanent,
              flags: FDBFlags = [.self]) -> FDBEntry {
    FDBEntry(key: FDBEntry.Key(port: vxlan100, mac: mac(address), isSelf: true, remote: ip(remote), vni: vni),
             state: state, flags: flags)
}

func mdb(_ port: IfIndex, _ group: String, bridge: IfIndex = br0, vlan: VLANID = .none, source: String? = nil,
         filterMode: UInt8? = nil, sourceCount: Int = 0) -> MDBEntry {
    MDBEntry(key: MDBEntry.Key(bridge: bridge, port: port, group: .ip(ip(group)), vlan: vlan, source: source.map(ip)),
             filterMode: filterMode, sourceCount: sourceCount)
}

/// An address in CIDR form: `address(swp(1), "10.0.1.1/24")`.
func address(_ interface: IfIndex, _ cidr: String) -> InterfaceAddress {
    let p = prefix(cidr)
    return InterfaceAddress(key: InterfaceAddress.Key(interface: interface, local: p.address, prefixLength: p.length),
                            scope: !p.address.isIPv4 && p.address.high >> 54 == 0x3FA ? .link : .universe)
}

/// A route. `via` lists (gateway, device, weight) paths; `dev` alone makes a connected route.
func route(_ destination: String, table: RouteTable = .main, metric: UInt32 = 0, tos: UInt8 = 0,
           type: RouteType = .unicast, via: [(String, IfIndex, UInt16)] = [], dev: IfIndex? = nil,
           nexthopID: UInt32? = nil, flags: UInt32 = 0) -> Route {
    let p = prefix(destination)
    var paths = via.map { RouteNexthop(gateway: ip($0.0), interface: $0.1, weight: $0.2) }
    if let dev, paths.isEmpty { paths = [RouteNexthop(interface: dev)] }
    let ipv6Device = p.family == .ipv6 && via.isEmpty ? dev : nil
    return Route(key: Route.Key(table: table, destination: p, tos: tos, metric: metric, interface: ipv6Device),
                 type: type, protocolID: .static, flags: flags, nexthopID: nexthopID, nexthops: paths)
}

func nexthopObject(_ id: UInt32, via gateway: String? = nil, dev: IfIndex? = nil, blackhole: Bool = false,
                   group: [(UInt32, UInt16)] = []) -> NexthopObject {
    NexthopObject(id: id, family: gateway.map { ip($0).family }, gateway: gateway.map(ip), interface: dev,
                  blackhole: blackhole, group: group.map { NexthopObject.Member(id: $0.0, weight: $0.1) })
}

func neighbor(_ interface: IfIndex, _ address: String, lladdr: String?, state: NeighborState = .reachable) -> Neighbor {
    Neighbor(key: Neighbor.Key(interface: interface, address: ip(address)), lladdr: lladdr.map(mac), state: state)
}

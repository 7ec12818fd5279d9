import SwitchDriver
import SwitchModel

/// Stage 3: multicast. The kernel keeps one MDB entry per (group, port); the chip keeps
/// one replication list per (bridge, VID, group), so the stage aggregates.
///
/// The kernel counterpart is the bridge MDB (`RTM_NEWMDB`, `bridge mdb show`),
/// switchdev's `SWITCHDEV_OBJ_ID_PORT_MDB`. The chip matches groups only: a group with
/// IGMPv3/MLDv2 source filtering in the kernel ((S,G) entries, INCLUDE mode, source
/// lists) is not programmed and stays trapped, so the kernel's software path forwards it
/// (the chip sends unregistered snooped multicast to the CPU).
struct MulticastStage: Sendable {
    private struct Slot: Hashable, Sendable {
        var bridge: IfIndex
        var vlan: VLANID
        var group: MDBGroup
    }

    private var members: [Slot: Set<IfIndex>] = [:]
    /// The entries of a slot that filter by source (`MDBEntry.filtersSources`).
    private var filtering: [Slot: Set<MDBEntry.Key>] = [:]
    private var slotsByPort: [IfIndex: Set<Slot>] = [:]
    private var slotsByBridge: [IfIndex: Set<Slot>] = [:]

    mutating func apply(_ change: Change<MDBEntry>) {
        if case .changed(let old, _) = change { remove(old.key) }
        if case .removed(let e) = change { remove(e.key); return }
        let e = change.current
        let k = e.key
        let slot = Slot(bridge: k.bridge, vlan: k.vlan, group: k.group)
        if e.filtersSources { filtering[slot, default: []].insert(k) }
        if k.source == nil { members[slot, default: []].insert(k.port) }
        slotsByPort[k.port, default: []].insert(slot)
        slotsByBridge[k.bridge, default: []].insert(slot)
    }

    private mutating func remove(_ k: MDBEntry.Key) {
        let slot = Slot(bridge: k.bridge, vlan: k.vlan, group: k.group)
        if filtering[slot]?.remove(k) != nil, filtering[slot]?.isEmpty == true { filtering[slot] = nil }
        if k.source == nil, members[slot]?.remove(k.port) != nil, members[slot]?.isEmpty == true { members[slot] = nil }
        if members[slot] == nil, filtering[slot] == nil {
            slotsByBridge[k.bridge]?.remove(slot)
            if slotsByBridge[k.bridge]?.isEmpty == true { slotsByBridge[k.bridge] = nil }
        }
        let portStillThere = members[slot]?.contains(k.port) == true || filtering[slot]?.contains { $0.port == k.port } == true
        if !portStillThere {
            slotsByPort[k.port]?.remove(slot)
            if slotsByPort[k.port]?.isEmpty == true { slotsByPort[k.port] = nil }
        }
    }

    /// The hardware key of one kernel entry: its group's replication list ((S,G) entries
    /// touch their (*,G) list, which they keep on the CPU path).
    static func key(of entry: MDBEntry) -> HardwareKey? {
        let k = entry.key
        return .mdb(BridgeID(rawValue: k.bridge.rawValue), k.vlan, k.group)
    }

    func keys(of link: IfIndex, in topology: Topology, into keys: inout Set<HardwareKey>) {
        for slot in (slotsByBridge[link] ?? []).union(slotsByPort[link] ?? []) {
            keys.insert(.mdb(BridgeID(rawValue: slot.bridge.rawValue), slot.vlan, slot.group))
        }
    }

    /// The replication list of a group in an offloaded, snooping bridge: its member chip
    /// ports. A group that also has members the chip cannot reach (the bridge itself, i.e.
    /// the host, or a non-chip port) stays on the CPU path: the chip has no CPU port in a
    /// replication list, and a list without them would starve those members. In a bridge
    /// without VLAN filtering only VLAN-0 entries count, as in the kernel's lookups. A group
    /// with source filtering is trapped whole (see the type's comment).
    func value(_ bridge: BridgeID, _ vid: VLANID, _ group: MDBGroup, in topology: Topology) -> DesiredObject? {
        let b = IfIndex(rawValue: bridge.rawValue)
        guard let settings = topology.offloadedBridge(b), settings.multicastSnooping,
              settings.vlanFiltering || vid == .none else { return nil }
        let slot = Slot(bridge: b, vlan: vid, group: group)
        let ports = members[slot] ?? []
        let filters = filtering[slot] ?? []
        guard !ports.isEmpty || !filters.isEmpty else { return nil }
        var chip = PortSet()
        var elsewhere: [String] = []
        for port in ports.sorted() {
            if port != b, topology.bridge(of: port) != b { continue }  // stale: no longer in this bridge
            if let p = topology.portID(of: port), p.rawValue >= 1, p.rawValue <= PortSet.maxPort {
                chip.insert(p)
            } else {
                elsewhere.append(topology.name(of: port))
            }
        }
        let entry = HardwareMDBEntry(bridge: bridge, vid: vid, group: group, ports: chip)
        if !filters.isEmpty {
            let ports = Set(filters.map { topology.name(of: $0.port) }).sorted().joined(separator: ", ")
            return DesiredObject(.mdb(entry), trapReason: "IGMPv3/MLDv2 source filtering (no (S,G) or filter mode in the chip) on " + ports,
                                 programmable: false)
        }
        guard !chip.isEmpty else { return nil }
        guard elsewhere.isEmpty else {
            let reason = "group has members off the chip: " + elsewhere.joined(separator: ", ")
            return DesiredObject(.mdb(entry), trapReason: reason, programmable: false)
        }
        return DesiredObject(.mdb(entry))
    }
}

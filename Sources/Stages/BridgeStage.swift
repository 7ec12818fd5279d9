import SwitchDriver
import SwitchModel

/// Stage 2: bridges, their VLAN members and their forwarding database.
///
/// The kernel counterparts are bridge netdevs (`IFLA_BR_*`), bridge VLANs
/// (`bridge vlan`, switchdev's `SWITCHDEV_OBJ_ID_PORT_VLAN`) and the bridge FDB
/// (AF_BRIDGE `RTM_NEWNEIGH` with `NTF_MASTER`, switchdev's `SWITCHDEV_FDB_ADD_TO_DEVICE`).
/// Bridges and members are functions of the topology; the stage keeps only the FDB
/// entries it maps (bridge and `self` entries that are not `extern_learn`).
///
/// No kernel FDB entry on a chip port is left without an object: what the chip has no use
/// for — a port's `self` entry (its own address list), an entry with a VLAN in a bridge
/// that does not filter VLANs — is a record that is not programmable, shown
/// `trapped(reason)`; a bridge port the chip does not have keeps its bridge on the CPU.
struct BridgeStage: Sendable {
    private var fdb = FDBStore()

    /// Entries the stage maps: the bridge's own FDB (`master`), and `self` entries (a
    /// device's own unicast and multicast address lists, `dev_uc`/`dev_mc`), which become
    /// records on chip ports. `extern_learn` entries are the chip's own learning written
    /// back to the kernel; programming them again would loop.
    static func accepts(_ entry: FDBEntry) -> Bool {
        (entry.key.isSelf || entry.master != nil || entry.flags.contains(.master))
            && !entry.flags.contains(.externLearn)
    }

    mutating func apply(_ change: Change<FDBEntry>, sequence: UInt64) {
        if case .changed(let old, let new) = change, old.key != new.key { fdb.remove(old.key) }
        if case .removed(let e) = change { fdb.remove(e.key); return }
        let e = change.current
        if Self.accepts(e) { fdb.insert(e, sequence: sequence) } else { fdb.remove(e.key) }
    }

    // MARK: Keys and values

    func keys(of link: IfIndex, in topology: Topology, into keys: inout Set<HardwareKey>) {
        if topology.isBridge(link) { keys.insert(.bridge(BridgeID(bridge: link))) }
        memberKeys(of: link, vids: topology.vlans(of: link).keys, in: topology, into: &keys)
        for stored in fdb.entries(on: link) {
            guard let c = candidate(stored.entry, sequence: stored.sequence, in: topology) else { continue }
            keys.insert(HardwareObject.fdb(c.object).key)
        }
    }

    /// The member keys of a chip port's VLANs in a VLAN-filtering bridge.
    func memberKeys<S: Sequence>(of link: IfIndex, vids: S, in topology: Topology, into keys: inout Set<HardwareKey>)
    where S.Element == VLANID {
        guard let p = topology.portID(of: link), let b = topology.bridge(of: link),
              topology.offloadedBridge(b)?.vlanFiltering == true else { return }
        for vid in vids { keys.insert(.vlanMember(BridgeID(bridge: b), p, vid)) }
    }

    /// The hardware key a kernel entry maps to now, if any.
    func keys(of entry: FDBEntry, in topology: Topology, into keys: inout Set<HardwareKey>) {
        guard Self.accepts(entry), let c = candidate(entry, sequence: 0, in: topology) else { return }
        keys.insert(HardwareObject.fdb(c.object).key)
    }

    /// A bridge with a chip port; trapped (not programmable) when the driver lacks a
    /// feature it uses.
    func bridgeValue(_ bridge: BridgeID, in topology: Topology) -> DesiredObject? {
        switch topology.bridgeState(IfIndex(rawValue: bridge.rawValue)) {
        case .offloaded(let s)?: DesiredObject(.bridge(s))
        case .trapped(let s, let reason)?: DesiredObject(.bridge(s), trapReason: reason, programmable: false)
        case nil: nil
        }
    }

    /// A chip port's membership in a VLAN of an offloaded VLAN-filtering bridge. The
    /// bridge's own VLANs are not members (they bind its router interface).
    func memberValue(_ bridge: BridgeID, _ port: PortID, _ vid: VLANID, in topology: Topology) -> DesiredObject? {
        guard let link = topology.link(of: port), let b = topology.bridge(of: link), b.rawValue == bridge.rawValue,
              topology.offloadedBridge(b)?.vlanFiltering == true,
              let v = topology.vlans(of: link)[vid] else { return nil }
        return DesiredObject(.vlanMember(VLANMember(bridge: bridge, port: port, vid: vid, untagged: v.untagged, pvid: v.pvid)))
    }

    /// The best bridge-FDB claim on a hardware FDB key.
    func fdbCandidate(_ bridge: BridgeID, _ vid: VLANID, _ mac: MACAddress, in topology: Topology) -> FDBCandidate? {
        FDBCandidate.best(fdb.entries(mac: mac, vlan: vid).lazy.compactMap { stored -> FDBCandidate? in
            guard let c = candidate(stored.entry, sequence: stored.sequence, in: topology),
                  c.object.bridge == bridge, c.object.vid == vid else { return nil }
            return c
        })
    }

    /// Maps one kernel entry. Entries naming the bridge itself, and permanent (local)
    /// entries of chip ports and vxlan ports, send the MAC to the CPU; static entries are
    /// static; dynamic and stale ones are kernel-learned and may age. In a bridge without
    /// VLAN filtering the kernel looks everything up in VLAN 0, so only VLAN-0 entries map.
    private func candidate(_ e: FDBEntry, sequence: UInt64, in topology: Topology) -> FDBCandidate? {
        if e.key.isSelf { return selfRecord(e, sequence: sequence, in: topology) }
        let port = e.key.port
        let bridge: IfIndex
        if topology.isBridge(port) {
            bridge = port
        } else {
            guard let m = topology.bridge(of: port), e.master == nil || e.master == m else { return nil }
            bridge = m
        }
        guard let settings = topology.offloadedBridge(bridge) else { return nil }
        let chipPort = topology.portID(of: port)
        let isVXLAN = topology.links[port]?.kind == .vxlan
        let name = topology.links[port]?.name ?? "ifindex \(port.rawValue)"
        guard settings.vlanFiltering || e.key.vlan == .none else {
            // The kernel looks every frame up in VLAN 0 here: this entry never matches.
            let object = HardwareFDBEntry(bridge: settings.bridge, vid: e.key.vlan, mac: e.key.mac,
                                          destination: chipPort.map { .port($0) } ?? .cpu)
            let bridgeName = topology.links[bridge]?.name ?? "the bridge"
            let reason = "vlan \(e.key.vlan.rawValue) entry on \(name) in \(bridgeName), which does not filter VLANs: "
                + "the kernel looks every frame up in VLAN 0, so it never matches; nothing to program"
            return FDBCandidate(object: object, priority: 0, sequence: sequence, trapReason: reason, programmable: false)
        }
        // (A bridge port the chip does not have — a veth, a tap — keeps its whole bridge on
        // the CPU: `Topology.bridgeState`. So the ports here are chip ports, vxlan ports or
        // the bridge itself.)
        let destination: FDBDestination
        let priority: UInt8
        if port == bridge || (e.state == .permanent && (chipPort != nil || isVXLAN)) {
            (destination, priority) = (.cpu, 3)
        } else if let p = chipPort {
            (destination, priority) = (.port(p), e.state == .static ? 2 : 1)
        } else {
            return nil
        }
        if e.flags.contains(.locked), topology.features.contains(.portTraps) {
            // A MAB entry: whether the kernel forwards to it is the kernel's business (it is
            // not an authorised host); frames to it go to the CPU.
            let object = HardwareFDBEntry(bridge: settings.bridge, vid: e.key.vlan, mac: e.key.mac, destination: .cpu)
            return FDBCandidate(object: object, priority: priority, sequence: sequence,
                                trapReason: "locked FDB entry (MAB) on \(topology.name(of: port)): the kernel decides")
        }
        let object = HardwareFDBEntry(bridge: settings.bridge, vid: e.key.vlan, mac: e.key.mac,
                                      destination: destination, isStatic: priority > 1,
                                      isSticky: destination == .cpu || e.flags.contains(.sticky))
        return FDBCandidate(object: object, priority: priority, sequence: sequence)
    }

    /// A `self` entry of a chip port: the port's own unicast or multicast address list
    /// (`ndo_dflt_fdb_add`: `dev_uc_add_excl` / `dev_mc_add_excl`), which tells the device
    /// what to receive; the bridge never consults it. The chip has nothing to hold for it:
    /// a record keyed under the port's own ifindex (never a bridge's, so it shares no key
    /// with the bridge's entries), not programmable, with what happens to the traffic.
    private func selfRecord(_ e: FDBEntry, sequence: UInt64, in topology: Topology) -> FDBCandidate? {
        let port = e.key.port
        guard let p = topology.portID(of: port) else { return nil }
        let name = topology.links[port]?.name ?? "ifindex \(port.rawValue)"
        let multicast = e.key.mac.rawValue & (1 << 40) != 0
        let list = multicast ? "the port's own multicast address list" : "the port's own address list"
        let handling: String
        if let b = topology.bridge(of: port), topology.offloadedBridge(b) != nil {
            handling = "the bridge ignores it, so frames to \(e.key.mac) are "
                + (multicast ? "flooded or snooped by the chip as by the kernel's bridge"
                             : "flooded by the chip as unknown unicast, as the kernel's bridge does")
        } else {
            handling = "the chip sends the port's traffic to the CPU and the kernel decides"
        }
        let object = HardwareFDBEntry(bridge: BridgeID(rawValue: port.rawValue), vid: e.key.vlan, mac: e.key.mac,
                                      destination: .port(p))
        let reason = "self entry on \(name) (\(list), not the bridge FDB): \(handling)"
        return FDBCandidate(object: object, priority: 0, sequence: sequence, trapReason: reason, programmable: false)
    }
}

import SwitchDriver
import SwitchModel

extension EmulatedASIC {
    /// Everything in the chip's tables, decoded back into objects. Routes and FDB entries
    /// are read from the lookup tables themselves, so a change behind the driver's back
    /// shows up here. Broken ports (`SwitchChip.portFaults`) are reported again as
    /// events, so whoever reads the chip back also learns their state.
    public func readBack() -> [HardwareObject] {
        chip.reportFaults()
        var out: [HardwareObject] = []
        for i in 1...profile.ports {
            if let s = chip.ports[i].settings, chip.ports[i].configured { out.append(.port(s)) }
        }
        for (_, acl) in chip.acls.sorted(by: { $0.key < $1.key }) { out.append(.acl(acl.object)) }
        for case let l? in chip.lags {
            out.append(.lag(l.object))
            let i = Int(l.object.id.rawValue)
            if let s = chip.ports[i].settings, chip.ports[i].configured { out.append(.port(s)) }
        }
        var bridgeIDs: [Int: BridgeID] = [:]
        for (slot, b) in chip.bridges.enumerated() {
            guard let b else { continue }
            bridgeIDs[slot] = b.settings.bridge
            out.append(.bridge(b.settings))
            out += chip.vlanMemberObjects[slot].values.map { .vlanMember($0) }
        }
        chip.fdb.forEach { key, dest, isStatic, _ in
            let (slot, vid, mac) = SwitchChip.splitKey(key)
            guard let id = bridgeIDs[slot] else { return }
            let entry = HardwareFDBEntry(bridge: id, vid: VLANID(rawValue: vid) ?? .none, mac: MACAddress(rawValue: mac),
                                         destination: chip.destination(dest), isStatic: isStatic)
            let objectKey = HardwareObject.fdb(entry).key
            // Learned entries are the chip's own; report only what the control plane programmed.
            if isStatic || programmedFDB[objectKey]?.destination == entry.destination {
                out.append(.fdb(programmedFDB[objectKey].map { var p = $0; p.destination = entry.destination; return p } ?? entry))
            }
        }
        for (key, ports) in chip.mdb {
            guard let id = bridgeIDs[key.bridge] else { continue }
            out.append(.mdb(HardwareMDBEntry(bridge: id, vid: VLANID(rawValue: key.vid) ?? .none, group: key.group, ports: ports)))
        }
        out += chip.rifs.elements.map { .routerInterface($0.object) }
        for (key, mac) in chip.neighbors {
            guard let r = chip.rifs[Int(key.rif)] else { continue }
            out.append(.neighbor(HardwareNeighbor(rif: r.object.id, address: key.address, mac: MACAddress(rawValue: mac))))
        }
        out += chip.nexthops.elements.map { .nexthop($0.object) }
        out += chip.groups.elements.map { .nexthopGroup($0.object) }
        for (vrf, lpm) in [(UInt32(254), chip.lpm4)] + chip.vrfLPM4.sorted(by: { $0.key < $1.key }) {
            lpm.forEach { prefix, length, value in
                guard let action = routeAction(value) else { return }
                out.append(.route(HardwareRoute(vrf: vrf, prefix: IPPrefix(address: IPAddress(ipv4: prefix), length: length), action: action)))
            }
        }
        for (vrf, lpm) in [(UInt32(254), chip.lpm6)] + chip.vrfLPM6.sorted(by: { $0.key < $1.key }) {
            lpm.forEach { high, low, length, value in
                guard let action = routeAction(value) else { return }
                out.append(.route(HardwareRoute(vrf: vrf, prefix: IPPrefix(address: IPAddress(high: high, low: low), length: length), action: action)))
            }
        }
        for t in chip.tunnels.elements {
            out.append(.vxlanTunnel(t.object))
            out += t.flood.map { .vxlanFlood(VXLANFloodEntry(vni: t.object.vni, remote: $0)) }
        }
        return out
    }

    /// The MACs the chip learned itself: every dynamic entry of the MAC table that the
    /// control plane did not program (not a kernel-learned MAC it pinned), on a port or
    /// behind a tunnel — what `readBack` leaves out — and the programmed ones the chip had
    /// learned itself first (`learnedUnderneath`: they stay when the program goes).
    public func learnedMACs() -> [HardwareFDBEntry]? {
        var out: [HardwareFDBEntry] = []
        chip.fdb.forEach { key, dest, isStatic, _ in
            guard !isStatic else { return }
            let (slot, vid, mac) = SwitchChip.splitKey(key)
            guard slot < chip.bridges.count, let bridge = chip.bridges[slot]?.settings.bridge else { return }
            let entry = HardwareFDBEntry(bridge: bridge, vid: VLANID(rawValue: vid) ?? .none, mac: MACAddress(rawValue: mac),
                                         destination: chip.destination(dest), isStatic: false)
            let objectKey = HardwareObject.fdb(entry).key
            if programmedFDB[objectKey]?.destination == entry.destination, !learnedUnderneath.contains(objectKey) { return }
            out.append(entry)
        }
        return out
    }

    /// Changes the chip's tables directly, behind the driver's bookkeeping — what a rogue
    /// process or a memory error would do. Tests use it to prove the audit catches drift.
    public func tamper(removing key: HardwareKey) {
        switch key {
        case .route(let vrf, let prefix):
            let a = prefix.address
            switch (a.isIPv4, vrf == 254) {
            case (true, true): _ = chip.lpm4.remove(a.ipv4Value, length: prefix.length)
            case (false, true): _ = chip.lpm6.remove(high: a.high, low: a.low, length: prefix.length)
            case (true, false): _ = chip.vrfLPM4[vrf]?.remove(a.ipv4Value, length: prefix.length)
            case (false, false): _ = chip.vrfLPM6[vrf]?.remove(high: a.high, low: a.low, length: prefix.length)
            }
        case .fdb(let id, let vid, let mac):
            guard let slot = chip.bridgeSlots[id] else { return }
            _ = chip.fdb.remove(SwitchChip.fdbKey(slot: slot, vid: vid.rawValue, mac: mac.rawValue))
        case .neighbor(let rif, let address):
            guard let i = chip.rifIndex[rif] else { return }
            chip.neighbors[NeighborKey(rif: i, address: address)] = nil
        default:
            _ = remove(key)
        }
    }
}

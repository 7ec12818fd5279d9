import SwitchDriver
import SwitchModel

/// Programming of ports, bridges, VLAN members, FDB and MDB entries, VXLAN tunnels.
extension EmulatedASIC {
    /// A front-panel port's index, or a programmed LAG's logical port.
    func portIndex(_ p: PortID) -> Int? {
        let i = Int(p.rawValue)
        if p.isLAG { return i < chip.lags.count && chip.lags[i] != nil ? i : nil }
        return i >= 1 && i <= profile.ports ? i : nil
    }

    func setPort(_ s: PortSettings) -> DriverResult {
        guard let i = portIndex(s.port) else {
            if s.port.isLAG { return .dependencyMissing(.lag(s.port)) }
            return .invalid("no port \(s.port) on this chip (\(profile.ports) ports)")
        }
        var slot = -1
        if let b = s.bridge {
            guard let found = chip.bridgeSlots[b] else { return .dependencyMissing(.bridge(b)) }
            guard chip.ports[i].rif < 0 else { return .invalid("\(s.port) is a routed port; remove its router interface first") }
            slot = found
        }
        let old = chip.ports[i].bridge
        if old != slot {
            if old >= 0 { leaveBridge(port: i, slot: old) }
            if slot >= 0 { chip.bridges[slot]!.ports.insert(s.port) }
        }
        var ps = chip.ports[i]
        let wasTrappingIngress = ps.trapIngress
        ps.configured = true
        ps.adminUp = s.adminUp
        ps.mtu = s.mtu
        ps.bridge = slot
        ps.stp = s.stpState
        ps.learning = s.learning
        ps.unicastFlood = s.unicastFlood
        ps.multicastFlood = s.multicastFlood
        ps.broadcastFlood = s.broadcastFlood
        ps.multicastRouter = s.multicastRouter
        ps.isolated = s.isolated
        ps.locked = s.locked
        ps.mab = s.locked && s.mab
        ps.trapIngress = s.ingressTrap != nil
        ps.trapEgress = s.egressTrap != nil
        ps.aclRequired = s.ingressACL
        ps.settings = s
        chip.ports[i] = ps
        if ps.trapEgress { chip.egressTrapPorts.insert(s.port) } else { chip.egressTrapPorts.remove(s.port) }
        // A port that stops learning flushes what it learned; so does one whose ingress goes
        // to the CPU: the kernel learns there now, and its entries come back as programmed
        // ones the kernel ages (the chip, seeing no traffic, would age them wrongly).
        if !s.stpState.learns || !s.adminUp || (ps.trapIngress && !wasTrappingIngress) { chip.flushLearned(port: i) }
        // New settings do not mend a broken port: its verdict is reported again.
        if chip.portFaults[s.port] != nil { chip.reportFault(s.port) }
        return .ok
    }

    func removePort(_ p: PortID) -> DriverResult {
        guard let i = portIndex(p) else { return .ok }
        guard chip.ports[i].rif < 0 else { return .invalid("\(p) still has a router interface") }
        if chip.ports[i].bridge >= 0 { leaveBridge(port: i, slot: chip.ports[i].bridge) }
        let old = chip.ports[i]
        chip.egressTrapPorts.remove(p)
        chip.ports[i] = PortState()
        chip.ports[i].linkUp = old.linkUp
        chip.ports[i].lag = old.lag          // a LAG's membership is the LAG's to undo
        chip.ports[i].collecting = old.collecting
        return .ok
    }

    /// Takes a port out of its bridge: VLAN memberships and learned MACs go with it.
    func leaveBridge(port i: Int, slot: Int) {
        let p = PortID(UInt16(i))
        guard chip.bridges[slot] != nil else { return }
        chip.bridges[slot]!.ports.remove(p)
        for (key, m) in chip.vlanMemberObjects[slot] where m.port == p {
            chip.vlanTables[slot][Int(m.vid.rawValue)].members.remove(p)
            chip.vlanTables[slot][Int(m.vid.rawValue)].untagged.remove(p)
            chip.vlanMemberObjects[slot][key] = nil
            count(.vlanMembers, -1)
        }
        chip.ports[i].pvid = 0
        chip.flushLearned(port: i)
    }

    func setBridge(_ s: BridgeSettings) -> DriverResult {
        guard s.vlanProtocol == 0x8100 || s.vlanProtocol == 0x88A8 else {
            return .notSupported("VLAN protocol 0x" + String(s.vlanProtocol, radix: 16))
        }
        if let slot = chip.bridgeSlots[s.bridge], var b = chip.bridges[slot] {
            if b.settings.vlanFiltering != s.vlanFiltering {
                // Changing VLAN filtering rebuilds the domain's VLAN table, as the chip would.
                // The FDB stays, as the kernel's does (br_vlan_filter_toggle flushes nothing):
                // entries keep their VLAN, and lookups in the new mode match only those of
                // its VLANs (VLAN 0 unaware).
                guard chip.vlanMemberObjects[slot].isEmpty, !chip.vlanTables[slot].contains(where: { $0.rif >= 0 || $0.tunnel >= 0 }) else {
                    return .invalid("\(s.bridge) has VLANs, router interfaces or tunnels; remove them before changing vlan_filtering")
                }
                chip.resetVLANs(slot: slot, filtering: s.vlanFiltering)
            }
            b.ownQuerierSettles = chip.querierSettles(s, previous: b.settings, settles: b.ownQuerierSettles)
            b.settings = s
            chip.bridges[slot] = b
            return .ok
        }
        guard let slot = chip.bridges.firstIndex(where: { $0 == nil }) else {
            return .notSupported("the chip has \(profile.maxBridges) bridge domains, all in use")
        }
        chip.bridges[slot] = BridgeState(settings: s, ownQuerierSettles: chip.querierSettles(s, previous: nil, settles: (nil, nil)))
        chip.resetVLANs(slot: slot, filtering: s.vlanFiltering)
        chip.bridgeSlots[s.bridge] = slot
        return .ok
    }

    func removeBridge(_ id: BridgeID) -> DriverResult {
        guard let slot = chip.bridgeSlots[id], let b = chip.bridges[slot] else { return .ok }
        guard b.ports.isEmpty else { return .invalid("\(id) still has ports \(b.ports)") }
        guard !chip.vlanTables[slot].contains(where: { $0.rif >= 0 || $0.tunnel >= 0 }) else {
            return .invalid("\(id) still has router interfaces or tunnels")
        }
        flushFDB(slot: slot)
        chip.mdb = chip.mdb.filter { key, _ in
            if key.bridge == slot { count(.mdb, -1) }
            return key.bridge != slot
        }
        count(.vlanMembers, -chip.vlanMemberObjects[slot].count)
        chip.vlanTables[slot] = []
        chip.vlanMemberObjects[slot] = [:]
        chip.bridges[slot] = nil
        chip.bridgeSlots[id] = nil
        return .ok
    }

    func flushFDB(slot: Int) {
        chip.fdb.removeAll(where: { key, _, _ in Int(key >> 60) == slot }, removed: { key, dest in
            chip.releaseDestination(dest)
            chip.pinnedDynamic.remove(key)
            chip.movingStatic.remove(key)
        })
        programmedFDB = programmedFDB.filter { _, f in chip.bridgeSlots[f.bridge] != slot }
        learnedUnderneath = learnedUnderneath.filter { programmedFDB[$0] != nil }
    }

    func setVLANMember(_ m: VLANMember) -> DriverResult {
        guard let slot = chip.bridgeSlots[m.bridge], let b = chip.bridges[slot] else { return .dependencyMissing(.bridge(m.bridge)) }
        guard b.settings.vlanFiltering else { return .invalid("\(m.bridge) does not filter VLANs") }
        guard m.vid.rawValue >= 1, m.vid.rawValue <= 4094 else { return .invalid("VLAN \(m.vid) is reserved") }
        guard let i = portIndex(m.port), chip.ports[i].bridge == slot else { return .dependencyMissing(.port(m.port)) }
        let key = HardwareObject.vlanMember(m).key
        if chip.vlanMemberObjects[slot][key] == nil {
            if let full = checkRoom(.vlanMembers) { return full }
            count(.vlanMembers, 1)
        }
        chip.vlanMemberObjects[slot][key] = m
        let v = Int(m.vid.rawValue)
        chip.vlanTables[slot][v].members.insert(m.port)
        if m.untagged { chip.vlanTables[slot][v].untagged.insert(m.port) } else { chip.vlanTables[slot][v].untagged.remove(m.port) }
        if m.pvid {
            chip.ports[i].pvid = m.vid.rawValue
        } else if chip.ports[i].pvid == m.vid.rawValue {
            chip.ports[i].pvid = 0
        }
        return .ok
    }

    func removeVLANMember(_ id: BridgeID, _ port: PortID, _ vid: VLANID) -> DriverResult {
        guard let slot = chip.bridgeSlots[id], chip.bridges[slot] != nil else { return .ok }
        let key = HardwareKey.vlanMember(id, port, vid)
        guard chip.vlanMemberObjects[slot].removeValue(forKey: key) != nil else { return .ok }
        count(.vlanMembers, -1)
        chip.vlanTables[slot][Int(vid.rawValue)].members.remove(port)
        chip.vlanTables[slot][Int(vid.rawValue)].untagged.remove(port)
        if let i = portIndex(port), chip.ports[i].pvid == vid.rawValue { chip.ports[i].pvid = 0 }
        return .ok
    }

    func setFDB(_ f: HardwareFDBEntry) -> DriverResult {
        guard let slot = chip.bridgeSlots[f.bridge], let b = chip.bridges[slot] else { return .dependencyMissing(.bridge(f.bridge)) }
        let vid = b.settings.vlanFiltering ? f.vid.rawValue : 0
        let dest: UInt32
        switch f.destination {
        case .port(let p):
            guard let i = portIndex(p), chip.ports[i].bridge == slot else { return .dependencyMissing(.port(p)) }
            dest = FDBValue.port(i)
        case .cpu:
            dest = FDBValue.cpu
        case .tunnel(let vni, let remote):
            guard let t = chip.tunnelByVNI[vni] else { return .dependencyMissing(.vxlanTunnel(vni)) }
            dest = chip.retainRemote(tunnel: t, address: remote)
        }
        let key = SwitchChip.fdbKey(slot: slot, vid: vid, mac: f.mac.rawValue)
        let objectKey = HardwareObject.fdb(f).key
        let previous = chip.fdb.remove(key)
        chip.movingStatic.remove(key)
        // The chip's own learning under a dynamic program to the same destination survives it.
        let keepsLearning = !f.isStatic && previous.map { $0.destination == dest && chipLearned(objectKey, $0) } == true
        let outcome = f.isStatic ? chip.fdb.setStatic(key, destination: dest, sticky: f.isSticky || dest == FDBValue.cpu)
            : chip.fdb.learn(key, destination: dest, now: chip.nowSeconds)
        switch outcome {
        case .bucketFull, .tableFull:
            chip.releaseDestination(dest)
            if let previous {
                _ = previous.isStatic ? chip.fdb.setStatic(key, destination: previous.destination, sticky: previous.isSticky)
                    : chip.fdb.learn(key, destination: previous.destination, now: chip.nowSeconds)
            }
            return .tableFull(.fdb, used: chip.fdb.count, capacity: capacity(.fdb))
        default:
            if let previous { chip.releaseDestination(previous.destination) }
            programmedFDB[objectKey] = f
            if keepsLearning { learnedUnderneath.insert(objectKey) } else { learnedUnderneath.remove(objectKey) }
            if f.isStatic { chip.pinnedDynamic.remove(key) } else { chip.pinnedDynamic.insert(key) }
            return .ok
        }
    }

    /// Whether the dynamic entry `held` for `key` is the chip's own learning (reported to the
    /// control plane as learned or moved): not programmed, moved away from what was
    /// programmed by a frame from the MAC, or programmed over what the chip had learned.
    func chipLearned(_ key: HardwareKey, _ held: (destination: UInt32, isStatic: Bool, isSticky: Bool)) -> Bool {
        guard !held.isStatic else { return false }
        guard let programmed = programmedFDB[key] else { return true }
        return programmed.destination != chip.destination(held.destination) || learnedUnderneath.contains(key)
    }

    /// Removes a programmed FDB entry. A dynamic one the chip also learned itself — it had
    /// learned the MAC before the kernel's entry was programmed, or moved it since — stays as
    /// a learned entry the chip ages (as if the program had never been): the control plane
    /// holds the chip's learning as `extern_learn`, which took the kernel's own entry over
    /// (`br_fdb_external_learn_add`: "Take over SW learned entry"), and that takeover is
    /// what removes the program. If the port no longer learns there, the entry goes and is
    /// reported aged, as a flush reports the chip's learning.
    func removeFDB(_ key: HardwareKey) -> DriverResult {
        guard case .fdb(let id, let vid, let mac) = key, let slot = chip.bridgeSlots[id], let b = chip.bridges[slot] else { return .ok }
        let k = SwitchChip.fdbKey(slot: slot, vid: b.settings.vlanFiltering ? vid.rawValue : 0, mac: mac.rawValue)
        let held = chip.fdb.entry(k)
        let ownLearning = programmedFDB[key] != nil && held.map { chipLearned(key, $0) } == true
        programmedFDB[key] = nil
        learnedUnderneath.remove(key)
        chip.pinnedDynamic.remove(k)
        chip.movingStatic.remove(k)
        if ownLearning, let held {
            if chip.learns(slot: slot, on: held.destination) {
                _ = chip.fdb.learn(k, destination: held.destination, now: chip.nowSeconds)
            } else {
                _ = chip.fdb.remove(k)
                chip.reportAged(k, held.destination)
            }
            return .ok
        }
        if let old = chip.fdb.remove(k) { chip.releaseDestination(old.destination) }
        return .ok
    }

    func setMDB(_ m: HardwareMDBEntry) -> DriverResult {
        guard let slot = chip.bridgeSlots[m.bridge], let b = chip.bridges[slot] else { return .dependencyMissing(.bridge(m.bridge)) }
        let key = MDBKey(bridge: slot, vid: b.settings.vlanFiltering ? m.vid.rawValue : 0, group: m.group)
        if chip.mdb[key] == nil {
            if let full = checkRoom(.mdb) { return full }
            count(.mdb, 1)
        }
        chip.mdb[key] = m.ports
        return .ok
    }

    func removeMDB(_ id: BridgeID, _ vid: VLANID, _ group: MDBGroup) -> DriverResult {
        guard let slot = chip.bridgeSlots[id], let b = chip.bridges[slot] else { return .ok }
        let key = MDBKey(bridge: slot, vid: b.settings.vlanFiltering ? vid.rawValue : 0, group: group)
        if chip.mdb.removeValue(forKey: key) != nil { count(.mdb, -1) }
        return .ok
    }

    func setTunnel(_ t: VXLANTunnel) -> DriverResult {
        guard let slot = chip.bridgeSlots[t.bridge], let b = chip.bridges[slot] else { return .dependencyMissing(.bridge(t.bridge)) }
        guard t.local.isIPv4 else { return .notSupported("VXLAN over IPv6") }
        guard t.vni < 1 << 24 else { return .invalid("VNI \(t.vni) exceeds 24 bits") }
        let v = b.vlanIndex(t.vid.rawValue)
        let existing = chip.tunnelByVNI[t.vni]
        let mapped = chip.vlanTables[slot][v].tunnel
        guard mapped < 0 || mapped == existing else { return .invalid("\(t.bridge) VLAN \(t.vid) already maps another VNI") }
        if let index = existing, let old = chip.tunnels[Int(index)] {
            // Re-pointing a VNI: unmap its old VLAN, keep its flood list.
            if let ob = chip.bridges[old.bridge] { chip.vlanTables[old.bridge][ob.vlanIndex(old.object.vid.rawValue)].tunnel = -1 }
            chip.tunnels[Int(index)] = TunnelState(object: t, bridge: slot, flood: old.flood)
            chip.vlanTables[slot][v].tunnel = index
        } else {
            if let full = checkRoom(.vxlanTunnels) { return full }
            count(.vxlanTunnels, 1)
            let index = Int32(chip.tunnels.insert(TunnelState(object: t, bridge: slot)))
            chip.tunnelByVNI[t.vni] = index
            chip.vlanTables[slot][v].tunnel = index
        }
        return .ok
    }

    func removeTunnel(_ vni: VNI) -> DriverResult {
        guard let index = chip.tunnelByVNI[vni], let t = chip.tunnels[Int(index)] else { return .ok }
        guard t.flood.isEmpty else { return .invalid("vxlan vni \(vni) still has \(t.flood.count) flood entries") }
        guard !chip.remotes.elements.contains(where: { $0.tunnel == index }) else {
            return .invalid("vxlan vni \(vni) still has FDB entries behind it")
        }
        if let b = chip.bridges[t.bridge] { chip.vlanTables[t.bridge][b.vlanIndex(t.object.vid.rawValue)].tunnel = -1 }
        chip.tunnels.remove(at: Int(index))
        chip.tunnelByVNI[vni] = nil
        count(.vxlanTunnels, -1)
        return .ok
    }

    func setFlood(_ f: VXLANFloodEntry) -> DriverResult {
        guard let index = chip.tunnelByVNI[f.vni], var t = chip.tunnels[Int(index)] else { return .dependencyMissing(.vxlanTunnel(f.vni)) }
        guard !t.flood.contains(f.remote) else { return .ok }
        guard f.remote.isIPv4 else { return .notSupported("VXLAN over IPv6") }
        if let full = checkRoom(.vxlanFlood) { return full }
        count(.vxlanFlood, 1)
        t.flood.append(f.remote)
        chip.tunnels[Int(index)] = t
        return .ok
    }

    func removeFlood(_ vni: VNI, _ remote: IPAddress) -> DriverResult {
        guard let index = chip.tunnelByVNI[vni], var t = chip.tunnels[Int(index)], let i = t.flood.firstIndex(of: remote) else { return .ok }
        t.flood.remove(at: i)
        chip.tunnels[Int(index)] = t
        count(.vxlanFlood, -1)
        return .ok
    }
}

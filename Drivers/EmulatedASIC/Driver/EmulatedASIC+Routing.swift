import SwitchDriver
import SwitchModel

/// Programming of router interfaces, neighbours, nexthops, ECMP groups and routes.
extension EmulatedASIC {
    func setRouterInterface(_ r: RouterInterface) -> DriverResult {
        // Validate the binding first.
        switch r.binding {
        case .port(let p):
            guard let i = portIndex(p), chip.ports[i].configured else { return .dependencyMissing(.port(p)) }
            guard chip.ports[i].bridge < 0 else { return .invalid("\(p) is a bridge port; a routed port must be standalone") }
        case .bridge(let b, let vid):
            guard let slot = chip.bridgeSlots[b], let bs = chip.bridges[slot] else { return .dependencyMissing(.bridge(b)) }
            guard bs.settings.vlanFiltering || vid == .none else { return .invalid("\(b) does not filter VLANs; VLAN \(vid) cannot carry a router interface") }
        }
        if let other = routerInterface(at: r.binding, mac: r.mac.rawValue), other != chip.rifIndex[r.id] {
            return .invalid("\(r.binding) already has a router interface with MAC \(r.mac)")
        }
        let index: Int32
        if let existing = chip.rifIndex[r.id] {
            index = existing
            unbind(chip.rifs[Int(index)]!.object.binding, index)
        } else {
            if let full = checkRoom(.routerInterfaces) { return full }
            count(.routerInterfaces, 1)
            index = Int32(chip.rifs.insert(RouterInterfaceState(object: r)))
            chip.rifIndex[r.id] = index
        }
        chip.rifs[Int(index)]!.object = r
        bind(r.binding, index)
        return .ok
    }

    /// The router interface bound at `binding` that frames to `mac` are routed with.
    private func routerInterface(at binding: RouterInterfaceBinding, mac: UInt64) -> Int32? {
        let own: Int32
        let key: RouterMACKey
        switch binding {
        case .port(let p):
            own = chip.ports[Int(p.rawValue)].rif
            key = .port(Int(p.rawValue), mac)
        case .bridge(let b, let vid):
            guard let slot = chip.bridgeSlots[b], let bs = chip.bridges[slot] else { return nil }
            let v = bs.vlanIndex(vid.rawValue)
            own = chip.vlanTables[slot][v].rif
            key = .vlan(slot, v, mac)
        }
        if own >= 0, chip.rifs[Int(own)]?.object.mac.rawValue == mac { return own }
        return chip.routerMACs[key]
    }

    /// Binds a router interface where its binding says: the first one there is the
    /// binding's own (`PortState.rif`, `VLANEntry.rif`), any further one is found by its
    /// MAC (`routerMACs`: a macvlan's over its lower's).
    private func bind(_ binding: RouterInterfaceBinding, _ index: Int32) {
        let mac = chip.rifs[Int(index)]!.object.mac.rawValue
        switch binding {
        case .port(let p):
            let i = Int(p.rawValue)
            if chip.ports[i].rif < 0 { chip.ports[i].rif = index } else { chip.routerMACs[.port(i, mac)] = index }
        case .bridge(let b, let vid):
            guard let slot = chip.bridgeSlots[b] else { return }
            let v = chip.bridges[slot]!.vlanIndex(vid.rawValue)
            if chip.vlanTables[slot][v].rif < 0 {
                chip.vlanTables[slot][v].rif = index
            } else {
                chip.routerMACs[.vlan(slot, v, mac)] = index
            }
        }
    }

    /// Undoes `bind`: a binding's own interface that goes hands the binding to a further
    /// one bound there, if any.
    private func unbind(_ binding: RouterInterfaceBinding, _ index: Int32) {
        let mac = chip.rifs[Int(index)]!.object.mac.rawValue
        func successor(_ key: (UInt64) -> RouterMACKey) -> Int32 {
            guard let (k, next) = chip.routerMACs.first(where: { $0.key == key($0.key.mac) }) else { return -1 }
            chip.routerMACs[k] = nil
            return next
        }
        switch binding {
        case .port(let p):
            let i = Int(p.rawValue)
            if chip.ports[i].rif == index {
                chip.ports[i].rif = successor { .port(i, $0) }
            } else if chip.routerMACs[.port(i, mac)] == index {
                chip.routerMACs[.port(i, mac)] = nil
            }
        case .bridge(let b, let vid):
            guard let slot = chip.bridgeSlots[b], let bs = chip.bridges[slot] else { return }
            let v = bs.vlanIndex(vid.rawValue)
            if chip.vlanTables[slot][v].rif == index {
                chip.vlanTables[slot][v].rif = successor { .vlan(slot, v, $0) }
            } else if chip.routerMACs[.vlan(slot, v, mac)] == index {
                chip.routerMACs[.vlan(slot, v, mac)] = nil
            }
        }
    }

    func removeRouterInterface(_ id: RouterInterfaceID) -> DriverResult {
        guard let index = chip.rifIndex[id], let r = chip.rifs[Int(index)] else { return .ok }
        guard r.refs == 0 else { return .invalid("\(id) is used by \(r.refs) nexthops and routes") }
        let neighbors = chip.neighbors.keys.filter { $0.rif == index }
        for n in neighbors { chip.neighbors[n] = nil }
        count(.neighbors, -neighbors.count)
        unbind(r.object.binding, index)
        chip.rifs.remove(at: Int(index))
        chip.rifIndex[id] = nil
        count(.routerInterfaces, -1)
        return .ok
    }

    func setNeighbor(_ n: HardwareNeighbor) -> DriverResult {
        guard let rif = chip.rifIndex[n.rif] else { return .dependencyMissing(.routerInterface(n.rif)) }
        let key = NeighborKey(rif: rif, address: n.address)
        if chip.neighbors[key] == nil {
            if let full = checkRoom(.neighbors) { return full }
            count(.neighbors, 1)
        }
        chip.neighbors[key] = n.mac.rawValue
        updateNexthops(rif: rif, address: n.address, mac: n.mac.rawValue)
        return .ok
    }

    func removeNeighbor(_ id: RouterInterfaceID, _ address: IPAddress) -> DriverResult {
        guard let rif = chip.rifIndex[id], chip.neighbors.removeValue(forKey: NeighborKey(rif: rif, address: address)) != nil else { return .ok }
        count(.neighbors, -1)
        updateNexthops(rif: rif, address: address, mac: nil)
        return .ok
    }

    /// Points every nexthop through (rif, address) at the neighbour's MAC, or marks it
    /// unresolved (its traffic is trapped so the kernel resolves it).
    private func updateNexthops(rif: Int32, address: IPAddress, mac: UInt64?) {
        guard let index = chip.nexthopIndex[HardwareNexthop(rif: chip.rifs[Int(rif)]!.object.id, gateway: address)] else { return }
        chip.nexthops[Int(index)]!.mac = mac ?? 0
        chip.nexthops[Int(index)]!.resolved = mac != nil
    }

    func setNexthop(_ nh: HardwareNexthop) -> DriverResult {
        guard let rif = chip.rifIndex[nh.rif] else { return .dependencyMissing(.routerInterface(nh.rif)) }
        if chip.nexthopIndex[nh] != nil { return .ok }
        if let full = checkRoom(.nexthops) { return full }
        count(.nexthops, 1)
        let mac = chip.neighbors[NeighborKey(rif: rif, address: nh.gateway)]
        let state = NexthopState(object: nh, rif: rif, mac: mac ?? 0, resolved: mac != nil)
        let index = chip.nexthops.insert(state)
        chip.nexthopIndex[nh] = Int32(index)
        chip.rifs[Int(rif)]!.refs += 1
        return .ok
    }

    func removeNexthop(_ nh: HardwareNexthop) -> DriverResult {
        guard let index = chip.nexthopIndex[nh], let state = chip.nexthops[Int(index)] else { return .ok }
        guard state.refs == 0 else { return .invalid("\(nh) is used by \(state.refs) routes and groups") }
        chip.rifs[Int(state.rif)]?.refs -= 1
        chip.nexthops.remove(at: Int(index))
        chip.nexthopIndex[nh] = nil
        count(.nexthops, -1)
        return .ok
    }

    func setGroup(_ g: HardwareNexthopGroup) -> DriverResult {
        guard !g.members.isEmpty else { return .invalid("\(g.id) has no members") }
        guard g.members.count <= profile.maxECMPWidth else {
            return .notSupported("\(g.id) has \(g.members.count) members; the chip's ECMP groups hold \(profile.maxECMPWidth)")
        }
        var indices: [Int32] = []
        for m in g.members {
            guard let i = chip.nexthopIndex[m.nexthop] else { return .dependencyMissing(.nexthop(m.nexthop)) }
            indices.append(i)
        }
        // Weighted slots: each member appears in proportion to its weight (at most 256 slots).
        let total = g.members.reduce(0) { $0 + Int(max($1.weight, 1)) }
        let scale = total > 256 ? Double(256) / Double(total) : 1
        var slots: [Int32] = []
        for (m, i) in zip(g.members, indices) {
            slots += Array(repeating: i, count: max(1, Int((Double(max(m.weight, 1)) * scale).rounded())))
        }
        let existing = chip.groupIndex[g.id]
        if existing == nil {
            if let full = checkRoom(.nexthopGroups) { return full }
            count(.nexthopGroups, 1)
        }
        for i in indices { chip.nexthops[Int(i)]!.refs += 1 }
        if let existing, let old = chip.groups[Int(existing)] {
            for m in old.object.members { if let i = chip.nexthopIndex[m.nexthop] { chip.nexthops[Int(i)]!.refs -= 1 } }
            chip.groups[Int(existing)] = GroupState(object: g, slots: slots, refs: old.refs)
        } else {
            chip.groupIndex[g.id] = Int32(chip.groups.insert(GroupState(object: g, slots: slots)))
        }
        return .ok
    }

    func removeGroup(_ id: NexthopGroupID) -> DriverResult {
        guard let index = chip.groupIndex[id], let g = chip.groups[Int(index)] else { return .ok }
        guard g.refs == 0 else { return .invalid("\(id) is used by \(g.refs) routes") }
        for m in g.object.members { if let i = chip.nexthopIndex[m.nexthop] { chip.nexthops[Int(i)]!.refs -= 1 } }
        chip.groups.remove(at: Int(index))
        chip.groupIndex[id] = nil
        count(.nexthopGroups, -1)
        return .ok
    }

    /// Encodes a route action as an LPM value, or says what is missing.
    func routeValue(_ action: RouteAction) -> RouteValueLookup {
        switch action {
        case .nexthop(let nh):
            guard let i = chip.nexthopIndex[nh] else { return .missing(.dependencyMissing(.nexthop(nh))) }
            return .value(RouteValue.make(RouteValue.nexthopKind, UInt32(i)))
        case .group(let id):
            guard let i = chip.groupIndex[id] else { return .missing(.dependencyMissing(.nexthopGroup(id))) }
            return .value(RouteValue.make(RouteValue.groupKind, UInt32(i)))
        case .attached(let rif):
            guard let i = chip.rifIndex[rif] else { return .missing(.dependencyMissing(.routerInterface(rif))) }
            return .value(RouteValue.make(RouteValue.attachedKind, UInt32(i)))
        case .trap(let reason):
            return .value(RouteValue.trap(reason))
        case .drop:
            return .value(RouteValue.drop)
        }
    }

    /// Adjusts the reference count of what an LPM value points at.
    func retain(_ value: UInt32, _ delta: Int) {
        let i = Int(RouteValue.payload(value))
        switch RouteValue.kind(value) {
        case RouteValue.nexthopKind: chip.nexthops[i]!.refs += delta
        case RouteValue.groupKind: chip.groups[i]!.refs += delta
        case RouteValue.attachedKind: chip.rifs[i]!.refs += delta
        default: break
        }
    }

    /// A route into its table: main (254), or any other table id — a VRF's, mlxsw's virtual
    /// router — made when its first route arrives and freed with its last. All tables share
    /// the profile's LPM capacity; the non-main ones count against `TableKind.vrfs`.
    func setRoute(_ r: HardwareRoute) -> DriverResult {
        let value: UInt32
        switch routeValue(r.action) {
        case .value(let v): value = v
        case .missing(let result): return result
        }
        let a = r.prefix.address
        let table: TableKind = a.isIPv4 ? .lpmIPv4 : .lpmIPv6
        if r.vrf != 254, chip.vrfLPM4[r.vrf] == nil, chip.vrfLPM6[r.vrf] == nil, let full = checkRoom(.vrfs) { return full }
        // The tables share the capacity: each may grow by what is left of it.
        let room = max(0, capacity(table) - used(table))
        func insert4(_ lpm: inout IPv4LPM) -> LPMInsertResult {
            lpm.capacity = lpm.count + room
            return lpm.insert(a.ipv4Value, length: r.prefix.length, value: value)
        }
        func insert6(_ lpm: inout IPv6LPM) -> LPMInsertResult {
            lpm.capacity = lpm.count + room
            return lpm.insert(high: a.high, low: a.low, length: r.prefix.length, value: value)
        }
        let outcome: LPMInsertResult
        switch (a.isIPv4, r.vrf == 254) {
        case (true, true): outcome = insert4(&chip.lpm4)
        case (false, true): outcome = insert6(&chip.lpm6)
        case (true, false): outcome = insert4(&chip.vrfLPM4[r.vrf, default: IPv4LPM(capacity: 0)])
        case (false, false): outcome = insert6(&chip.vrfLPM6[r.vrf, default: IPv6LPM(capacity: 0)])
        }
        switch outcome {
        case .full:
            dropEmptyVRF(r.vrf)
            return .tableFull(table, used: used(table), capacity: capacity(table))
        case .inserted:
            retain(value, 1)
        case .replaced(let old):
            retain(value, 1)
            retain(old, -1)
        }
        return .ok
    }

    func removeRoute(vrf: UInt32, _ prefix: IPPrefix) -> DriverResult {
        let a = prefix.address
        let old: UInt32?
        switch (a.isIPv4, vrf == 254) {
        case (true, true): old = chip.lpm4.remove(a.ipv4Value, length: prefix.length)
        case (false, true): old = chip.lpm6.remove(high: a.high, low: a.low, length: prefix.length)
        case (true, false): old = chip.vrfLPM4[vrf]?.remove(a.ipv4Value, length: prefix.length)
        case (false, false): old = chip.vrfLPM6[vrf]?.remove(high: a.high, low: a.low, length: prefix.length)
        }
        if let old { retain(old, -1) }
        dropEmptyVRF(vrf)
        return .ok
    }

    /// Frees a non-main table that holds no route of either family.
    func dropEmptyVRF(_ vrf: UInt32) {
        guard vrf != 254 else { return }
        if chip.vrfLPM4[vrf]?.count == 0 { chip.vrfLPM4[vrf] = nil }
        if chip.vrfLPM6[vrf]?.count == 0 { chip.vrfLPM6[vrf] = nil }
    }

    /// The non-main tables that hold routes.
    var vrfsInUse: Int { Set(chip.vrfLPM4.keys).union(chip.vrfLPM6.keys).count }

    /// Decodes an LPM value back into the action it was programmed with (read-back).
    func routeAction(_ value: UInt32) -> RouteAction? {
        let i = Int(RouteValue.payload(value))
        switch RouteValue.kind(value) {
        case RouteValue.nexthopKind: return chip.nexthops[i].map { .nexthop($0.object) }
        case RouteValue.groupKind: return chip.groups[i].map { .group($0.object.id) }
        case RouteValue.attachedKind: return chip.rifs[i].map { .attached($0.object.id) }
        default: return i == 0 ? .drop : .trap(TrapReason.allCases[i - 1])
        }
    }
}

/// An encoded route action, or the result that says what it is missing.
enum RouteValueLookup {
    case value(UInt32)
    case missing(DriverResult)
}

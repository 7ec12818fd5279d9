import SwitchDriver
import SwitchModel

/// Programming of link aggregation groups.
extension EmulatedASIC {
    func setLAG(_ l: HardwareLAG) -> DriverResult {
        let id = Int(l.id.rawValue)
        guard l.id.isLAG, id < chip.lags.count else { return .invalid("\(l.id) is not a LAG port") }
        guard !l.members.isEmpty else { return .invalid("\(l.id) has no members") }
        guard l.members.count <= profile.maxLAGMembers else {
            return .notSupported("\(l.id) has \(l.members.count) members; the chip's LAGs hold \(profile.maxLAGMembers)")
        }
        for m in l.members {
            guard !m.isLAG, let i = portIndex(m) else { return .invalid("no port \(m) on this chip (\(profile.ports) ports)") }
            guard chip.ports[i].lag == 0 || chip.ports[i].lag == id else {
                return .invalid("\(m) is a member of \(PortID(UInt16(chip.ports[i].lag)))")
            }
            guard chip.ports[i].bridge < 0, chip.ports[i].rif < 0 else {
                return .invalid("\(m) is bridged or routed; a LAG member is neither")
            }
        }
        guard Set(l.distributing).isSubset(of: l.members), PortSet(l.collecting).allSatisfy({ l.members.contains($0) }) else {
            return .invalid("\(l.id) distributes or collects through a port that is not a member")
        }
        if chip.lags[id] == nil, let full = checkRoom(.lags) { return full }
        if let old = chip.lags[id] {
            for m in old.object.members where !l.members.contains(m) {
                chip.ports[Int(m.rawValue)].lag = 0
                chip.ports[Int(m.rawValue)].collecting = false
            }
        } else {
            count(.lags, 1)
        }
        for m in l.members {
            chip.ports[Int(m.rawValue)].lag = id
            chip.ports[Int(m.rawValue)].collecting = l.collecting.contains(m)
        }
        chip.lags[id] = LAGState(object: l, distributing: l.distributing.map { Int($0.rawValue) })
        chip.refreshLAGLink(id)
        return .ok
    }

    func removeLAG(_ p: PortID) -> DriverResult {
        let id = Int(p.rawValue)
        guard p.isLAG, id < chip.lags.count, let old = chip.lags[id] else { return .ok }
        guard !chip.ports[id].configured else { return .invalid("\(p) is still configured as a port") }
        for m in old.object.members {
            chip.ports[Int(m.rawValue)].lag = 0
            chip.ports[Int(m.rawValue)].collecting = false
        }
        chip.lags[id] = nil
        chip.ports[id] = PortState()
        count(.lags, -1)
        return .ok
    }
}

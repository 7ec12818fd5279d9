import SwitchDriver
import SwitchModel

extension EmulatedASIC {
    /// Programs a port's ingress ACL; each rule takes one ACL TCAM entry. A rule kept
    /// (same priority and handle) keeps its counter.
    func setACL(_ a: HardwarePortACL) -> DriverResult {
        guard let i = portIndex(a.port) else {
            return a.port.isLAG ? .dependencyMissing(.lag(a.port)) : .invalid("no port \(a.port) on this chip (\(profile.ports) ports)")
        }
        let old = chip.acls[i]
        let growth = a.rules.count - (old?.object.rules.count ?? 0)
        if growth > 0 {
            let u = used(.acl), c = capacity(.acl)
            if u + growth > c { return .tableFull(.acl, used: u, capacity: c) }
        }
        var kept: [UInt64: ACLRuleCounters] = [:]
        if let old {
            for (r, c) in zip(old.object.rules, old.counters) { kept[UInt64(r.priority) << 32 | UInt64(r.handle)] = c }
        }
        let counters = a.rules.map { kept[UInt64($0.priority) << 32 | UInt64($0.handle)] ?? ACLRuleCounters() }
        chip.acls[i] = PortACL(object: a, counters: counters)
        count(.acl, growth)
        return .ok
    }

    func removeACL(_ p: PortID) -> DriverResult {
        guard let i = Int(exactly: p.rawValue), let old = chip.acls.removeValue(forKey: i) else { return .ok }
        count(.acl, -old.object.rules.count)
        return .ok
    }
}

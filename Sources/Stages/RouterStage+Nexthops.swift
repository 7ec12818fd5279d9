import SwitchDriver
import SwitchModel

/// Kernel nexthop objects (`ip nexthop`, `RTM_NEWNEXTHOP`).
///
/// A single-path object with a gateway and a device holds one registry nexthop and maps
/// to a one-member group with the object's id; a group object maps to a group of its
/// members' nexthops with their weights (members not known yet are left out, and the
/// group is re-emitted when they arrive). Blackhole objects make routes through them
/// drop; objects without a gateway, FDB objects and groups the chip cannot hold make them
/// trap.
extension RouterStage {
    mutating func apply(_ change: Change<NexthopObject>, in topology: Topology, into sink: inout ChangeSink) {
        let id = change.current.id
        var affected: Set<UInt32> = [id]
        affected.formUnion(groupsContaining[id] ?? [])
        let before = context
        let oldGroups = affected.sorted().map { ($0, objectGroup($0, routable: context.routable)) }

        var new: NexthopObject?
        if case .removed = change { new = nil } else { new = change.current }
        // Retain the new nexthop before releasing the old one: an unchanged gateway
        // must not be removed and set again.
        let newHandle = new.flatMap(Self.singleNexthop).map { retain($0, into: &sink) }
        if let old = objects.removeValue(forKey: id) {
            for m in old.group {
                groupsContaining[m.id]?.remove(id)
                if groupsContaining[m.id]?.isEmpty == true { groupsContaining[m.id] = nil }
            }
        }
        if let h = objectHandles.removeValue(forKey: id) { release(h, into: &sink) }
        if let new {
            objects[id] = new
            for m in new.group { groupsContaining[m.id, default: []].insert(id) }
            objectHandles[id] = newHandle
        }

        for (g, old) in oldGroups {
            sink.change(.nexthopGroup(ofObject: g), from: old, to: objectGroup(g, routable: context.routable))
        }
        let changed = reclassify(affected, in: topology)
        rescanRoutes(through: nil, objects: changed, from: before, topology, to: topology, into: &sink)
    }

    /// The nexthop of a single-path object the chip can use: gateway and device.
    static func singleNexthop(_ o: NexthopObject) -> HardwareNexthop? {
        guard !o.isGroup, !o.blackhole, !o.fdb, let gateway = o.gateway, let oif = o.interface else { return nil }
        return HardwareNexthop(rif: RouterInterfaceID(rawValue: oif.rawValue), gateway: gateway)
    }

    /// Whether a group of `count` members fits the chip.
    private func fits(_ count: Int) -> Bool {
        (count <= 1 || features.contains(.ecmp)) && count <= maxECMPWidth
    }

    /// The hardware group of a kernel object, given the interfaces with router interfaces.
    /// Nil when the object has no usable member, or a member leaves through an interface
    /// without one (the chip would send that member's share elsewhere).
    func objectGroup(_ id: UInt32, routable: Set<IfIndex>) -> DesiredObject? {
        guard let o = objects[id] else { return nil }
        var members: [HardwareNexthopGroup.Member] = []
        if let nh = Self.singleNexthop(o) {
            members = [HardwareNexthopGroup.Member(nexthop: nh, weight: 1)]
        } else if o.isGroup, fits(o.group.count) {
            for m in o.group {
                guard let member = objects[m.id], let nh = Self.singleNexthop(member) else { continue }
                members.append(HardwareNexthopGroup.Member(nexthop: nh, weight: m.weight))
            }
        }
        guard !members.isEmpty,
              members.allSatisfy({ routable.contains(IfIndex(rawValue: $0.nexthop.rif.rawValue)) }) else { return nil }
        return DesiredObject(.nexthopGroup(HardwareNexthopGroup(id: NexthopGroupID(rawValue: id), members: members)))
    }

    /// How routes through object `id` map now.
    private func objectClass(_ id: UInt32, in topology: Topology) -> ObjectClass? {
        guard let o = objects[id] else { return nil }
        if o.fdb { return .trap("nexthop \(id) is an FDB nexthop") }
        if objectGroup(id, routable: context.routable) != nil { return .group }
        if !o.isGroup {
            if o.blackhole { return .drop }
            guard o.gateway != nil, let oif = o.interface else { return .trap("nexthop \(id) has no gateway") }
            return .trap(Self.noRouterInterface(oif, in: topology))
        }
        if !features.contains(.ecmp), o.group.count > 1 { return .trap("driver does not support ECMP") }
        if o.group.count > maxECMPWidth { return .trap("ECMP width \(o.group.count) exceeds the chip's \(maxECMPWidth)") }
        let known = o.group.compactMap { objects[$0.id] }
        if !known.isEmpty, known.allSatisfy(\.blackhole) { return .drop }
        if let oif = known.compactMap({ Self.singleNexthop($0) }).map({ IfIndex(rawValue: $0.rif.rawValue) })
            .first(where: { !context.routable.contains($0) }) {
            return .trap(Self.noRouterInterface(oif, in: topology))
        }
        return .trap("nexthop group \(id) has no member the chip can use")
    }

    /// Recomputes the classes of `ids`; returns those whose mapping changed.
    mutating func reclassify(_ ids: Set<UInt32>, in topology: Topology) -> Set<UInt32> {
        var changed: Set<UInt32> = []
        for id in ids {
            let now = objectClass(id, in: topology)
            if (now ?? .group) != (context.classes[id] ?? .group) { changed.insert(id) }
            context.classes[id] = now
        }
        return changed
    }
}

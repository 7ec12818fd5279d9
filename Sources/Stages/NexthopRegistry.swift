import SwitchDriver
import SwitchModel

/// The nexthops and synthesized ECMP groups the router stage wants, reference counted.
///
/// A hardware nexthop (gateway, router interface) is shared by every route and kernel
/// nexthop object that uses it; a synthesized group by every route with the same inline
/// multipath member list (`RTA_MULTIPATH`). Users hold 4-byte handles, which stay valid
/// while they hold them; a group holds one reference on each of its members.
struct NexthopRegistry: Sendable {
    private struct Entry: Sendable {
        var nexthop: HardwareNexthop
        var uses: Int
    }

    private struct Group: Sendable {
        var members: [HardwareNexthopGroup.Member]
        var handles: [UInt32]
        var uses: Int
    }

    private var entries: [Entry] = []
    private var handles: [HardwareNexthop: UInt32] = [:]
    private var freeEntries: [UInt32] = []
    private var groups: [Group] = []
    private var groupHandles: [[HardwareNexthopGroup.Member]: UInt32] = [:]
    private var freeGroups: [UInt32] = []

    func nexthop(_ h: UInt32) -> HardwareNexthop { entries[Int(h)].nexthop }
    func uses(_ h: UInt32) -> Int { entries[Int(h)].uses }

    /// Takes a reference on `nexthop`; `isNew` when it was not in use before.
    mutating func retain(_ nexthop: HardwareNexthop) -> (handle: UInt32, isNew: Bool) {
        if let h = handles[nexthop] {
            entries[Int(h)].uses += 1
            return (h, false)
        }
        let entry = Entry(nexthop: nexthop, uses: 1)
        let h: UInt32
        if let free = freeEntries.popLast() {
            h = free
            entries[Int(h)] = entry
        } else {
            h = UInt32(entries.count)
            entries.append(entry)
        }
        handles[nexthop] = h
        return (h, true)
    }

    /// Drops a reference; true when it was the last.
    mutating func release(_ h: UInt32) -> Bool {
        entries[Int(h)].uses -= 1
        guard entries[Int(h)].uses == 0 else { return false }
        handles[entries[Int(h)].nexthop] = nil
        freeEntries.append(h)
        return true
    }

    /// Handles of the nexthops in use through a router interface.
    func handles(through rif: RouterInterfaceID) -> [UInt32] {
        entries.indices.filter { entries[$0].uses > 0 && entries[$0].nexthop.rif == rif }.map { UInt32($0) }
    }

    // MARK: Synthesized groups

    /// The group's id: `NexthopGroupID.synthesizedBase + index`.
    static func groupID(_ index: UInt32) -> NexthopGroupID {
        NexthopGroupID(rawValue: NexthopGroupID.synthesizedBase + index)
    }

    func members(ofGroup g: UInt32) -> [HardwareNexthopGroup.Member] { groups[Int(g)].members }
    func groupUses(_ g: UInt32) -> Int { groups[Int(g)].uses }

    /// Looks up the group of a member list; nil when there is none yet.
    func group(for members: [HardwareNexthopGroup.Member]) -> UInt32? { groupHandles[members] }

    /// Takes a reference on an existing group.
    mutating func retainGroup(_ g: UInt32) { groups[Int(g)].uses += 1 }

    /// Makes a group with one reference; its members must already be retained (their
    /// handles are given, in member order).
    mutating func makeGroup(_ members: [HardwareNexthopGroup.Member], handles memberHandles: [UInt32]) -> UInt32 {
        let group = Group(members: members, handles: memberHandles, uses: 1)
        let g: UInt32
        if let free = freeGroups.popLast() {
            g = free
            groups[Int(g)] = group
        } else {
            g = UInt32(groups.count)
            groups.append(group)
        }
        groupHandles[members] = g
        return g
    }

    /// Drops a reference on a group; when it was the last, returns the member handles the
    /// caller must release.
    mutating func releaseGroup(_ g: UInt32) -> [UInt32]? {
        groups[Int(g)].uses -= 1
        guard groups[Int(g)].uses == 0 else { return nil }
        groupHandles[groups[Int(g)].members] = nil
        freeGroups.append(g)
        return groups[Int(g)].handles
    }

    /// Groups in use with a member through a router interface.
    func groups(through rif: RouterInterfaceID) -> [UInt32] {
        groups.indices.filter { groups[$0].uses > 0 && groups[$0].members.contains { $0.nexthop.rif == rif } }
            .map { UInt32($0) }
    }
}

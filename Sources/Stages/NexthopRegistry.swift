import SwitchDriver
import SwitchModel

/// The nexthops and synthesized ECMP groups the router stage wants, reference counted.
///
/// A hardware nexthop (gateway, router interface) is shared by every route and kernel
/// nexthop object that uses it; a synthesized group by every route with the same inline
/// multipath member list (`RTA_MULTIPATH`). Users hold 4-byte handles, which stay valid
/// while they hold them; a group holds one reference on each of its members.
///
/// A synthesized group's id is a function of its (sorted) member list, never of the
/// order groups were made in: `synthesizedBase` + a stable 31-bit hash of the members,
/// the next free id on a collision. Ids the hardware already holds for a member list
/// (`preferGroupIDs`, from a restart's read-back) win over the hash, so a restarted
/// daemon names every group as the chip does — whatever order routes arrive in, and
/// even when two member lists collide.
struct NexthopRegistry: Sendable {
    private struct Entry: Sendable {
        var nexthop: HardwareNexthop
        var uses: Int
    }

    private struct Group: Sendable {
        var id: NexthopGroupID
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
    /// Synthesized group ids in use.
    private var groupIDsInUse: Set<UInt32> = []
    /// Ids the hardware holds for member lists (a restart's read-back), and those ids.
    private var preferredIDs: [[HardwareNexthopGroup.Member]: NexthopGroupID] = [:]
    private var reservedIDs: Set<UInt32> = []

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

    /// The id of group handle `g`.
    func groupID(_ g: UInt32) -> NexthopGroupID { groups[Int(g)].id }

    /// The id a member list hashes to: `synthesizedBase` + 31 bits of FNV-1a over each
    /// member's router interface, gateway and weight, finalized by a SplitMix64 round —
    /// stable across processes and builds (Swift's `Hasher` is seeded per process).
    static func hashedID(_ members: [HardwareNexthopGroup.Member]) -> UInt32 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ v: UInt64, bytes: Int) {
            for i in 0..<bytes {
                h ^= (v >> (8 * UInt64(i))) & 0xFF
                h &*= 0x0000_0100_0000_01B3
            }
        }
        for m in members {
            mix(UInt64(m.nexthop.rif.rawValue), bytes: 4)
            mix(m.nexthop.gateway.high, bytes: 8)
            mix(m.nexthop.gateway.low, bytes: 8)
            mix(UInt64(m.weight), bytes: 2)
        }
        var mixer = SplitMix64(seed: h)   // one finalizing round spreads FNV's low-entropy high bits
        let z = mixer.next()
        return NexthopGroupID.synthesizedBase | UInt32(truncatingIfNeeded: z >> 32) & ~NexthopGroupID.synthesizedBase
    }

    /// Remembers the ids the hardware holds for synthesized groups, so the groups made
    /// for the same member lists get them back.
    mutating func preferGroupIDs(_ held: [HardwareNexthopGroup]) {
        for g in held where g.id.rawValue >= NexthopGroupID.synthesizedBase && preferredIDs[g.members] == nil {
            guard !reservedIDs.contains(g.id.rawValue) else { continue }
            preferredIDs[g.members] = g.id
            reservedIDs.insert(g.id.rawValue)
        }
    }

    /// The id for a new group of `members`: the one the hardware holds for them, else
    /// their hash, probing upwards past ids in use or held for other member lists.
    private func allocateID(_ members: [HardwareNexthopGroup.Member]) -> NexthopGroupID {
        if let id = preferredIDs[members], !groupIDsInUse.contains(id.rawValue) { return id }
        let base = NexthopGroupID.synthesizedBase
        var raw = Self.hashedID(members)
        while groupIDsInUse.contains(raw) || reservedIDs.contains(raw) {
            raw = base | (raw &+ 1) & ~base
        }
        return NexthopGroupID(rawValue: raw)
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
        let id = allocateID(members)
        groupIDsInUse.insert(id.rawValue)
        let group = Group(id: id, members: members, handles: memberHandles, uses: 1)
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
        groupIDsInUse.remove(groups[Int(g)].id.rawValue)
        freeGroups.append(g)
        return groups[Int(g)].handles
    }

    /// Groups in use with a member through a router interface.
    func groups(through rif: RouterInterfaceID) -> [UInt32] {
        groups.indices.filter { groups[$0].uses > 0 && groups[$0].members.contains { $0.nexthop.rif == rif } }
            .map { UInt32($0) }
    }
}

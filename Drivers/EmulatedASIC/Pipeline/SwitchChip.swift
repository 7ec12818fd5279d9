import SwitchDriver
import SwitchModel

/// The emulated switch chip's forwarding core: hardware-like tables and a pure pipeline,
/// frames in, frames out. No I/O; the packet I/O layer (or a test) calls `process`.
///
/// ```
///  frame ─► parse ─► port/STP ─► trap classifier ─► ingress VLAN ─► learn
///                                                       │
///        ┌──────────────── dst = router MAC? ───────────┤
///        ▼                                              ▼
///   L3: LPM ─► nexthop/ECMP ─► neighbour          L2: FDB / MDB / flood
///        rewrite (MAC, TTL, checksum)                   │ tunnel? ─► VXLAN encap
///        └────────────────► egress VLAN tag push/pop ◄──┘
///                                │
///                       FrameSink.transmit / trap
/// ```
///
/// The control plane (`EmulatedASIC`, the driver) fills the tables; `SwitchChip` only
/// reads them, except for learning, ageing and counters, as real silicon does.
public final class SwitchChip {
    let portCount: Int
    /// Front-panel ports 1…`portCount`, then LAG ports (`PortID.lag(n)`), by port number.
    var ports: [PortState]
    /// LAGs by their logical port number.
    var lags: [LAGState?]
    /// The front-panel port the frame in the pipeline arrived on: traps and drops of a
    /// frame that entered a LAG's logical port are the member's.
    var ingressMember = 0
    var bridges: [BridgeState?]
    var bridgeSlots: [BridgeID: Int] = [:]
    /// Per bridge slot: the VLAN table, and the VLAN member objects programmed into it.
    var vlanTables: [[VLANEntry]]
    var vlanMemberObjects: [[HardwareKey: VLANMember]]
    var fdb: MACTable
    var remotes = Slots<RemoteState>()
    var remoteIndex: [RemoteKey: Int] = [:]
    var mdb: [MDBKey: PortSet] = [:]
    /// Dynamic FDB entries the control plane programmed (kernel-learned MACs): they may
    /// move, but only the kernel ages them — the chip does not.
    var pinnedDynamic: Set<UInt64> = []
    /// Static entries whose MAC showed up elsewhere (`TrapReason.stationMove`): the
    /// kernel has moved them, so frames to them go to the CPU until the control plane
    /// reprograms or removes the entry.
    var movingStatic: Set<UInt64> = []
    var rifs = Slots<RouterInterfaceState>()
    var rifIndex: [RouterInterfaceID: Int32] = [:]
    /// Router interfaces bound where another already is (`PortState.rif`,
    /// `VLANEntry.rif`), by binding and MAC: a macvlan's over its lower's. Frames to
    /// such a MAC are routed with that interface.
    var routerMACs: [RouterMACKey: Int32] = [:]
    /// Frames the pipeline decided to trap so far (policed or not): tells a caller whether
    /// a step it ran sent the frame to the CPU.
    var trapsDecided: UInt64 = 0
    var neighbors: [NeighborKey: UInt64] = [:]
    var nexthops = Slots<NexthopState>()
    var nexthopIndex: [HardwareNexthop: Int32] = [:]
    var groups = Slots<GroupState>()
    var groupIndex: [NexthopGroupID: Int32] = [:]
    /// The main table (254), which also holds the local table's addresses.
    var lpm4: IPv4LPM
    var lpm6: IPv6LPM
    /// Every other routing table (a VRF's), by table id; present while it holds a route.
    /// The tables share the profile's LPM capacity; a router interface names its table.
    var vrfLPM4: [UInt32: IPv4LPM] = [:]
    var vrfLPM6: [UInt32: IPv6LPM] = [:]
    var tunnels = Slots<TunnelState>()
    var tunnelByVNI: [UInt32: Int32] = [:]
    var parserOptions = ParserOptions()
    /// Ports whose egress the control plane keeps on the CPU (`PortState.trapEgress`).
    var egressTrapPorts = PortSet()
    /// Ingress ACLs by port number (`HardwarePortACL`), read only for ports whose
    /// `PortState.aclRequired` is set.
    var acls: [Int: PortACL] = [:]

    // Counters.
    var portCounters: [PortCounters]
    var drops: [DropReason: UInt64] = [:]
    var trapCounters: [TrapReason: TrapCounters] = [:]
    var policers: [TrapReason: TokenBucket]
    /// Source MACs that could not be learned: their bucket or the table was full.
    public internal(set) var learnFailures: UInt64 = 0

    /// Virtual time in nanoseconds: ageing and policers run on it, never on the wall clock.
    public private(set) var now: UInt64 = 0
    var nowSeconds: UInt32 { UInt32(truncatingIfNeeded: now / 1_000_000_000) }
    var events: [DriverEvent] = []
    /// Events dropped because nobody polled (the queue is bounded like a chip's FIFO).
    public private(set) var eventOverflows = 0
    /// How many events the queue holds (a chip's event FIFO); tests shrink it.
    public var eventLimit = 1 << 16
    /// Events lost since the last `eventsLost` notice, and the queue position of the
    /// latest loss: the notice is delivered right after the events queued before it.
    var unreportedLosses = 0
    var lossPosition = 0

    /// Scratch space for rewritten frames (tag push/pop, routing, encapsulation).
    let scratch: UnsafeMutableRawPointer
    static let scratchSize = 4 * ScratchRegion.size

    struct RemoteKey: Hashable {
        var tunnel: Int32
        var address: IPAddress
    }

    init(profile: TableProfile) {
        portCount = profile.ports
        ports = Array(repeating: PortState(), count: Int(PortSet.maxPort) + 1)
        lags = Array(repeating: nil, count: Int(PortSet.maxPort) + 1)
        bridges = Array(repeating: nil, count: profile.maxBridges)
        vlanTables = Array(repeating: [], count: profile.maxBridges)
        vlanMemberObjects = Array(repeating: [:], count: profile.maxBridges)
        fdb = MACTable(capacity: profile.capacity(.fdb), ways: 8)
        lpm4 = IPv4LPM(capacity: profile.capacity(.lpmIPv4))
        lpm6 = IPv6LPM(capacity: profile.capacity(.lpmIPv6))
        portCounters = Array(repeating: PortCounters(), count: Int(PortSet.maxPort) + 1)
        policers = Dictionary(uniqueKeysWithValues: TrapReason.allCases.map { ($0, TokenBucket(rate: profile.trapRate, burst: profile.trapBurst)) })
        scratch = UnsafeMutableRawPointer.allocate(byteCount: Self.scratchSize, alignment: 16)
    }

    deinit { scratch.deallocate() }

    /// Advances the virtual clock and ages learned MACs whose bridge's ageing time passed.
    /// The ageing scan runs at most once per virtual second, as a chip's ageing engine does.
    public func advance(byNanoseconds delta: UInt64) {
        now &+= delta
        guard nowSeconds != lastAgeingScan else { return }
        lastAgeingScan = nowSeconds
        ageFDB()
    }

    var lastAgeingScan: UInt32 = 0

    func ageFDB() {
        let seconds = nowSeconds
        var aged: [(UInt64, UInt32)] = []
        fdb.age(now: seconds, isExpired: { key, lastSeen in
            let slot = Int(key >> 60)
            guard slot < self.bridges.count, let b = self.bridges[slot], b.settings.ageingTime > 0,
                  !self.pinnedDynamic.contains(key) else { return false }
            return seconds &- lastSeen >= b.settings.ageingTime
        }, removed: { key, dest in aged.append((key, dest)) })
        for (key, dest) in aged { reportAged(key, dest) }
    }

    /// Removes the MACs the chip learned on port `p` (not static entries, not the kernel's
    /// pinned ones), each reported as aged so its `extern_learn` entry leaves the kernel too.
    func flushLearned(port p: Int) {
        var flushed: [UInt64] = []
        fdb.removeAll(where: { key, dest, isStatic in !isStatic && dest == FDBValue.port(p) && !self.pinnedDynamic.contains(key) },
                      removed: { key, _ in flushed.append(key) })
        for key in flushed { reportAged(key, FDBValue.port(p)) }
    }

    /// Whether the chip learns source MACs for bridge slot `slot` at FDB destination `dest`
    /// now: a port of that bridge that is up, in a learning STP state, with learning on and
    /// its ingress not trapped (where learning happens, `learn(_:_:)`); a tunnel remote of
    /// a tunnel that learns.
    func learns(slot: Int, on dest: UInt32) -> Bool {
        if FDBValue.isTunnel(dest) {
            guard let r = remotes[Int(dest & ~FDBValue.tunnelFlag)], let t = tunnels[Int(r.tunnel)] else { return false }
            return t.object.learning != .off
        }
        guard FDBValue.isPort(dest), Int(dest) >= 1, Int(dest) < ports.count else { return false }
        let ps = ports[Int(dest)]
        return ps.bridge == slot && ps.adminUp && ps.linkUp && ps.stp.learns && ps.learning && !ps.trapIngress
    }

    /// Posts `macAged` for a removed entry, then frees its destination.
    func reportAged(_ key: UInt64, _ dest: UInt32) {
        let (slot, vid, mac) = Self.splitKey(key)
        if let b = bridges[slot] {
            post(.macAged(bridge: b.settings.bridge, vid: VLANID(rawValue: vid) ?? .none, mac: MACAddress(rawValue: mac),
                          destination: destination(dest)))
        }
        releaseDestination(dest)
    }

    @inline(__always) func post(_ event: DriverEvent) {
        if events.count < eventLimit {
            events.append(event)
        } else {
            eventOverflows += 1
            unreportedLosses += 1
            lossPosition = events.count
        }
    }

    /// Removes and returns up to `limit` events, oldest first. After a loss, the poll that
    /// reaches its position stops there and ends with `.eventsLost(count:)`, so the control
    /// plane has applied everything queued before the loss when it re-reads the chip.
    func takeEvents(limit: Int) -> [DriverEvent] {
        guard limit > 0 else { return [] }
        if unreportedLosses > 0, lossPosition < limit {
            var out = Array(events.prefix(lossPosition))
            events.removeFirst(lossPosition)
            out.append(.eventsLost(count: unreportedLosses))
            unreportedLosses = 0
            lossPosition = 0
            return out
        }
        let n = min(limit, events.count)
        let out = Array(events.prefix(n))
        events.removeFirst(n)
        if unreportedLosses > 0 { lossPosition -= n }
        return out
    }

    @inline(__always) func drop(_ reason: DropReason, port: Int) {
        drops[reason, default: 0] &+= 1
        portCounters[port > portCount ? ingressMember : port].rxDrops &+= 1
    }

    /// Empties a bridge slot's VLAN table, sized for the bridge's VLAN filtering.
    func resetVLANs(slot: Int, filtering: Bool) {
        vlanTables[slot] = Array(repeating: VLANEntry(), count: filtering ? 4096 : 1)
        vlanMemberObjects[slot] = [:]
    }

    /// Whether a port's link (oper) state is up.
    public func isLinkUp(_ port: PortID) -> Bool {
        let p = Int(port.rawValue)
        return p >= 1 && p <= portCount && ports[p].linkUp
    }

    /// A configured port's administrative state (`swpN` up or down, programmed by the
    /// control plane); nil for a port nothing configured. The packet I/O enables the PHY
    /// from it (`ChipPorts.refreshLinks`).
    public func adminState(_ port: PortID) -> Bool? {
        let p = Int(port.rawValue)
        guard p >= 1, p <= portCount, ports[p].configured else { return nil }
        return ports[p].adminUp
    }

    /// Sets a port's link (oper) state, as the PHY would; reported as an event.
    public func setLink(_ port: PortID, up: Bool) {
        let p = Int(port.rawValue)
        guard p >= 1, p <= portCount, ports[p].linkUp != up else { return }
        ports[p].linkUp = up
        post(.portOperState(port, up: up))
        // A link going down flushes the MACs learned on it, as the kernel bridge does.
        if !up { flushLearned(port: p) }
        if ports[p].lag > 0 { refreshLAGLink(ports[p].lag) }
    }

    /// Ports the packet I/O reports broken (a front-panel wire that is gone), with why.
    public private(set) var portFaults: [PortID: String] = [:]

    /// Marks a port broken (`reason`) or working again (nil), as a PHY reports a missing
    /// transceiver: a broken port's link goes down, and the verdict is reported on the port
    /// object (`objectState(.port, hardwareFailure(reason))`, then `ok` when it works again).
    /// The link comes back up with the next carrier check, not here.
    public func setPortFault(_ port: PortID, _ reason: String?) {
        let p = Int(port.rawValue)
        guard p >= 1, p <= portCount, portFaults[port] != reason else { return }
        portFaults[port] = reason
        if reason != nil { setLink(port, up: false) }
        reportFault(port)
    }

    /// Reports a port's fault, or that it has none, on its port object.
    func reportFault(_ port: PortID) {
        let report: HardwareReport = portFaults[port].map { .failed(.hardwareFailure($0), evidence: "reported by the chip") }
            ?? .offloaded(evidence: "programmed by the chip; its front-panel wire is present")
        post(.objectState(.port(port), report))
    }

    /// Reports every broken port again: after a read-back (a control plane that restarted
    /// learns the verdicts on what it read) and after a port object is set (its new
    /// settings do not mend the wire).
    func reportFaults() {
        for port in portFaults.keys.sorted(by: { $0.rawValue < $1.rawValue }) { reportFault(port) }
    }

    // MARK: FDB keys: 4 bits bridge slot, 12 bits VID, 48 bits MAC.

    @inline(__always) static func fdbKey(slot: Int, vid: UInt16, mac: UInt64) -> UInt64 {
        MACKey.make(fid: UInt16(slot) << 12 | vid, mac: mac)
    }

    static func splitKey(_ key: UInt64) -> (slot: Int, vid: UInt16, mac: UInt64) {
        let fid = MACKey.fid(key)
        return (Int(fid >> 12), fid & 0xFFF, MACKey.mac(key))
    }

    func destination(_ value: UInt32) -> FDBDestination {
        if value == FDBValue.cpu { return .cpu }
        if FDBValue.isTunnel(value) {
            let r = remotes[Int(value & ~FDBValue.tunnelFlag)]!
            let vni = tunnels[Int(r.tunnel)]?.object.vni ?? 0
            return .tunnel(vni: vni, remote: r.address)
        }
        return .port(PortID(UInt16(value)))
    }

    /// Interns a tunnel remote for FDB destinations; counted so it can be freed.
    func retainRemote(tunnel: Int32, address: IPAddress) -> UInt32 {
        let key = RemoteKey(tunnel: tunnel, address: address)
        if let i = remoteIndex[key] {
            remotes[i]!.refs += 1
            return FDBValue.tunnelFlag | UInt32(i)
        }
        let i = remotes.insert(RemoteState(tunnel: tunnel, address: address, refs: 1))
        remoteIndex[key] = i
        return FDBValue.tunnelFlag | UInt32(i)
    }

    func releaseDestination(_ value: UInt32) {
        guard FDBValue.isTunnel(value) else { return }
        let i = Int(value & ~FDBValue.tunnelFlag)
        guard var r = remotes[i] else { return }
        r.refs -= 1
        if r.refs == 0 {
            remoteIndex[RemoteKey(tunnel: r.tunnel, address: r.address)] = nil
            remotes.remove(at: i)
        } else {
            remotes[i] = r
        }
    }
}

/// A token bucket on the chip's virtual clock: `rate` packets per second, `burst` deep.
struct TokenBucket {
    var rate: UInt64
    var burst: UInt64
    var tokens: UInt64
    var last: UInt64 = 0

    init(rate: UInt64, burst: UInt64) {
        self.rate = rate
        self.burst = burst
        tokens = burst
    }

    @inline(__always) mutating func take(now: UInt64) -> Bool {
        if now > last {
            let refill = (now - last) * rate / 1_000_000_000
            if refill > 0 {
                tokens = min(burst, tokens + refill)
                last = now
            }
        }
        guard tokens > 0 else { return false }
        tokens -= 1
        return true
    }
}

extension SwitchChip {
    /// The LPM value an IPv4 destination matches, if any (tests and benchmarks).
    public func lookupIPv4(_ address: UInt32) -> UInt32? { lpm4.lookup(address) }
}

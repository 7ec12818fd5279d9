import SwitchDriver
import SwitchModel

/// Where a frame entered a bridge: a front-panel port, or a VXLAN tunnel (after decap).
struct IngressContext {
    var port: Int            // 0 for a tunnel or the router
    var bridge: Int
    var vid: UInt16
    var tunnel: Int32 = -1
    var remote: IPAddress? = nil
}

extension SwitchChip {
    /// Runs one frame received on `port` through the pipeline.
    public func process<S: FrameSink>(_ frame: UnsafeRawBufferPointer, from port: PortID, into sink: inout S) {
        var p = Int(port.rawValue)
        precondition(p >= 1 && p <= portCount, "no port \(port) on this chip")
        portCounters[p].rxPackets &+= 1
        portCounters[p].rxBytes &+= UInt64(frame.count)
        var pf = ParsedFrame()
        if let reason = FrameParser.parse(frame, into: &pf, options: parserOptions) {
            drop(reason, port: p)
            return
        }
        ingressMember = p
        var ps = ports[p]
        guard ps.configured, ps.adminUp, ps.linkUp else {
            if ps.configured || !ps.linkUp { drop(.portDown, port: p) } else { trap(frame, port: p, .unknownPort, &sink) }
            return
        }
        // A port whose ingress the control plane keeps on the CPU forwards nothing itself.
        if ps.trapIngress {
            trap(frame, port: p, .portTrap, &sink)
            return
        }
        // tc ingress runs before anything the bridge does (link-local traps included).
        if ps.aclRequired, !aclAllows(frame, pf, port: p, &sink) { return }
        // 01:80:c2:00:00:0x is never forwarded: BPDUs and other link-local protocols go to the CPU.
        if pf.dst & ~0xF == 0x0180_C200_0000 {
            trap(frame, port: p, pf.dst == 0x0180_C200_0000 ? .stp : .linkLocal, &sink)
            return
        }
        // A LAG member: the frame enters the LAG's logical port, if the bond takes it at all
        // (an inactive slave's frames are the kernel's: it drops them, or a protocol bound
        // to the slave takes them).
        var port = port
        if ps.lag > 0 {
            guard ps.collecting else {
                trap(frame, port: p, .portTrap, &sink)
                return
            }
            p = ps.lag
            port = PortID(UInt16(p))
            ps = ports[p]
            guard ps.configured, ps.adminUp, ps.linkUp else {
                drop(.portDown, port: p)
                return
            }
            if ps.trapIngress {
                trap(frame, port: p, .portTrap, &sink)
                return
            }
            // The bond's own tc ingress, after its member's.
            if ps.aclRequired, !aclAllows(frame, pf, port: p, &sink) { return }
        }
        if ps.bridge < 0 {
            if ps.rif >= 0, pf.dst == rifs[Int(ps.rif)]?.object.mac.rawValue, pf.tagCount == 0 {
                route(frame, pf, ingressPort: p, rif: ps.rif, &sink)
            } else if ps.rif >= 0, pf.dst & (1 << 40) == 0, pf.tagCount == 0 {
                if !routerMACs.isEmpty, let rif = routerMACs[.port(p, pf.dst)] {
                    route(frame, pf, ingressPort: p, rif: rif, &sink)    // a macvlan's MAC
                } else {
                    drop(.hairpin, port: p)     // unicast to someone else on a routed port: not ours
                }
            } else {
                trap(frame, port: p, ps.rif >= 0 ? controlReason(pf) : .unknownPort, &sink)
            }
            return
        }
        guard let bridge = bridges[ps.bridge] else {
            trap(frame, port: p, .unknownPort, &sink)
            return
        }
        // Ingress VLAN: the tag's VID, or the PVID for untagged and priority-tagged frames.
        var vid: UInt16 = 0
        if bridge.settings.vlanFiltering {
            if pf.tagCount > 0, pf.outerTPID == bridge.settings.vlanProtocol, pf.outerVID != 0 {
                vid = pf.outerVID
            } else {
                vid = ps.pvid
            }
            guard vid != 0, vlanTables[ps.bridge][Int(vid)].members.contains(port) else {
                drop(.vlanIngressFilter, port: p)
                return
            }
        }
        // STP: only learning and forwarding ports learn; only forwarding ports forward.
        guard ps.stp.learns else {
            drop(.stpBlocked, port: p)
            return
        }
        if ps.locked, !authorised(pf.src, port: p, slot: ps.bridge, vid: vid, mab: ps.mab, frame, &sink) { return }
        let ctx = IngressContext(port: p, bridge: ps.bridge, vid: vid)
        if ps.learning, learn(pf.src, ctx) {
            // The kernel moves a static entry that is not sticky (br_fdb_update): the frame
            // goes up whole, the kernel moves the entry and forwards it, the control plane
            // reprograms the chip.
            trap(frame, port: p, .stationMove, &sink)
            return
        }
        guard ps.stp.forwards else {
            drop(.stpBlocked, port: p)
            return
        }
        bridgeForward(frame, pf, ctx, &sink)
    }

    /// A locked port's check of a frame's source MAC (`br_handle_frame_finish`,
    /// `BR_PORT_LOCKED`), after VLAN ingress and STP, before learning: the frame goes on only
    /// if the MAC has an FDB entry on this very port in its VLAN. An entry elsewhere drops
    /// it without roaming. An entry to the CPU is a local address or a locked (MAB) entry,
    /// which the kernel refreshes: the frame goes up for the kernel to drop. No entry at all:
    /// with MAB, up to the CPU (the kernel adds a locked entry and drops the frame);
    /// without, dropped here.
    @inline(__always) func authorised<S: FrameSink>(_ src: UInt64, port p: Int, slot: Int, vid: UInt16, mab: Bool,
                                                    _ frame: UnsafeRawBufferPointer, _ sink: inout S) -> Bool {
        let entry = fdb.lookup(Self.fdbKey(slot: slot, vid: vid, mac: src))
        if entry == FDBValue.port(p) { return true }
        if entry == FDBValue.cpu || (entry == nil && mab) {
            trap(frame, port: p, .lockedPort, &sink)
        } else {
            drop(.lockedPort, port: p)
        }
        return false
    }

    /// Learns `src` on the ingress port or tunnel remote, reporting new and moved MACs.
    /// True when `src` has a static entry that is not sticky elsewhere: the kernel's
    /// bridge would move it (`br_fdb_update`), so the caller sends the frame to the CPU.
    @discardableResult
    @inline(__always) func learn(_ src: UInt64, _ ctx: IngressContext) -> Bool {
        let key = Self.fdbKey(slot: ctx.bridge, vid: ctx.vid, mac: src)
        let dest: UInt32
        if ctx.port > 0 {
            dest = FDBValue.port(ctx.port)
        } else {
            guard var remote = ctx.remote, let t = tunnels[Int(ctx.tunnel)] else { return false }
            switch t.object.learning {
            case .off: return false
            case .remote: break
            case .defaultRemotes: remote = .anyIPv4      // the vxlan device's default destinations
            }
            if let cur = fdb.lookup(key), FDBValue.isTunnel(cur), remotes[Int(cur & ~FDBValue.tunnelFlag)]?.address == remote {
                _ = fdb.learn(key, destination: cur, now: nowSeconds)
                return false
            }
            dest = retainRemote(tunnel: ctx.tunnel, address: remote)
        }
        let outcome = fdb.learn(key, destination: dest, now: nowSeconds)
        if outcome == .refreshed {
            releaseDestination(dest)
            return false
        }
        guard let b = bridges[ctx.bridge] else { return false }
        let bridgeID = b.settings.bridge
        let vid = VLANID(rawValue: ctx.vid) ?? .none
        switch outcome {
        case .learned:
            post(.macLearned(bridge: bridgeID, vid: vid, mac: MACAddress(rawValue: src), destination: destination(dest)))
        case .moved(let from):
            post(.macMoved(bridge: bridgeID, vid: vid, mac: MACAddress(rawValue: src), from: destination(from), to: destination(dest)))
            releaseDestination(from)
        case .isStatic, .refreshed:
            releaseDestination(dest)
        case .staticElsewhere:
            releaseDestination(dest)
            movingStatic.insert(key)
            return true
        case .bucketFull, .tableFull:
            releaseDestination(dest)
            learnFailures &+= 1
        }
        return false
    }

    /// L2 forwarding in a bridge VLAN: router MAC → L3, then FDB / MDB / flood.
    func bridgeForward<S: FrameSink>(_ frame: UnsafeRawBufferPointer, _ pf: ParsedFrame, _ ctx: IngressContext, _ sink: inout S) {
        guard let bridge = bridges[ctx.bridge] else { return }
        let vlan = vlanTables[ctx.bridge][bridge.vlanIndex(ctx.vid)]
        let isMulticast = pf.dst & (1 << 40) != 0
        if isMulticast, bridge.settings.multicastSnooping, pf.isIGMP || pf.isMLD { hearQuery(frame, pf, bridge: ctx.bridge) }
        // Broadcast and multicast that may reach an egress-trapped port go whole to the CPU
        // once, before any copy (ARP/ND to the router, IGMP/MLD) could send a second one up.
        if isMulticast, !egressTrapPorts.isEmpty, ctx.port > 0 || ctx.tunnel >= 0,
           trapsEgress(floodSet(bridge, ctx, vlan: vlan, allowed: { _ in true })) {
            trap(frame, port: ctx.port, .portTrap, &sink)
            return
        }
        // Neighbour suppression: the kernel's bridge may answer ARP/ND itself and floods it
        // to no suppressing port; it gets the frame whole and does both.
        if bridge.settings.neighborSuppression, pf.l3 == .arp || pf.isNeighborDiscovery {
            trap(frame, port: ctx.port, pf.l3 == .arp ? .arp : .neighborDiscovery, &sink)
            return
        }
        if vlan.rif >= 0 {
            let rifMAC = rifs[Int(vlan.rif)]?.object.mac.rawValue ?? 0
            // The VLAN's own router interface, or a further one by its MAC (a macvlan's).
            var rif: Int32 = pf.dst == rifMAC ? vlan.rif : -1
            if rif < 0, !isMulticast, !routerMACs.isEmpty,
               let other = routerMACs[.vlan(ctx.bridge, bridge.vlanIndex(ctx.vid), pf.dst)] {
                rif = other
            }
            if rif >= 0 {
                // VXLAN to one of our VTEPs arriving on an SVI is decapsulated, not routed.
                if pf.isVXLAN, ctx.port > 0, decapsulate(frame, pf, ingressPort: ctx.port, &sink) { return }
                if ctx.port > 0 {
                    let local = fdb.lookup(Self.fdbKey(slot: ctx.bridge, vid: ctx.vid, mac: pf.dst)) == FDBValue.cpu
                    if local {
                        route(frame, pf, ingressPort: ctx.port, rif: rif, &sink)
                    } else {
                        // A router MAC the bridge's FDB does not hold as local (a macvlan's:
                        // the kernel keeps it only in the bridge's address list, which makes
                        // the bridge promiscuous): the kernel's bridge forwards or floods the
                        // frame as any other and passes it up too, where the macvlan takes
                        // it. Unless the forwarding trapped it whole (the kernel does both).
                        // The route first, held back: if it traps the frame (an unresolved
                        // neighbour, TTL, …), the kernel gets it whole and both forwards and
                        // routes it, so the chip forwards nothing.
                        var routed = HeldSink()
                        route(frame, pf, ingressPort: ctx.port, rif: rif, &routed)
                        if let (port, reason, copy) = routed.trapped.first {
                            copy.withUnsafeBytes { sink.trap($0, port: port, reason: reason) }
                            return
                        }
                        let trapsBefore = trapsDecided
                        unicastForward(frame, pf, ctx, vlan: vlan, bridge: bridge, &sink)
                        for (copy, port) in routed.transmitted {
                            if trapsDecided == trapsBefore {
                                copy.withUnsafeBytes { sink.transmit($0, port: port) }
                            } else {
                                // Forwarding trapped it whole: the kernel routes it too.
                                portCounters[Int(port.rawValue)].txPackets &-= 1
                                portCounters[Int(port.rawValue)].txBytes &-= UInt64(copy.count)
                            }
                        }
                    }
                } else if ctx.tunnel >= 0, rif == vlan.rif,
                          fdb.lookup(Self.fdbKey(slot: ctx.bridge, vid: ctx.vid, mac: pf.dst)) == FDBValue.cpu {
                    // Decapsulated to the bridge's own MAC: routed, as the kernel's bridge
                    // passes it up to its SVI (EVPN symmetric IRB: the L3VNI's router MAC).
                    // What the router traps goes up still encapsulated (DecapsulatedSink).
                    route(frame, pf, ingressPort: 0, rif: rif, &sink)
                } else {
                    trap(frame, port: 0, .localAddress, &sink)
                }
                return
            }
            // What the kernel's bridge both floods and delivers to its own stack is trapped
            // whole, never copied: the kernel floods the trapped frame itself (a TAP carries
            // no offload_fwd_mark), so a chip flood as well would reach every host twice.
            // (From a tunnel, port 0, it goes up still encapsulated: DecapsulatedSink.)
            if isMulticast, let reason = routerBoundReason(pf) {
                trap(frame, port: ctx.port, reason, &sink)
                return
            }
        }
        if isMulticast {
            if pf.dst == 0xFFFF_FFFF_FFFF {
                flood(frame, pf, ctx, vlan: vlan, allowed: { $0.broadcastFlood }, &sink)
                return
            }
            if bridge.settings.multicastSnooping {
                if pf.isIGMP || pf.isMLD {
                    trap(frame, port: ctx.port, pf.isIGMP ? .igmp : .mld, &sink)
                    return
                }
                if let group = snoopedGroup(pf) {
                    if querierExists(bridge, ipv6: pf.l3 == .ipv6),
                       let members = mdb[MDBKey(bridge: ctx.bridge, vid: ctx.vid, group: group)] {
                        // Registered: the group's members and the multicast routers, among
                        // the ports that may carry the frame at all (VLAN, STP, isolation).
                        let eligible = floodSet(bridge, ctx, vlan: vlan, allowed: { _ in true })
                        let routers = PortSet(eligible.filter { ports[Int($0.rawValue)].multicastRouter })
                        let set = (members | routers) & eligible
                        if trapsEgress(set) {
                            trap(frame, port: ctx.port, .portTrap, &sink)
                            return
                        }
                        replicate(frame, pf, ctx, vlan: vlan, to: set, &sink)
                    } else {
                        // Unregistered (or a group kept on the CPU path, e.g. IGMPv3 source
                        // filtering), or no querier the chip can count on: the kernel floods
                        // it to mcast_flood ports without a querier and to router ports only
                        // with one (`br_multicast_querier_exists`), a state the mirror cannot
                        // follow, so the whole frame goes up once.
                        trap(frame, port: ctx.port, .unregisteredMulticast, &sink)
                    }
                    return
                }
            }
            flood(frame, pf, ctx, vlan: vlan, allowed: { $0.multicastFlood }, &sink)
            return
        }
        unicastForward(frame, pf, ctx, vlan: vlan, bridge: bridge, &sink)
    }

    /// Known unicast by the FDB (port, CPU, tunnel), unknown unicast flooded.
    func unicastForward<S: FrameSink>(_ frame: UnsafeRawBufferPointer, _ pf: ParsedFrame, _ ctx: IngressContext,
                                      vlan: VLANEntry, bridge: BridgeState, _ sink: inout S) {
        let key = Self.fdbKey(slot: ctx.bridge, vid: ctx.vid, mac: pf.dst)
        guard let dest = fdb.lookup(key) else {
            flood(frame, pf, ctx, vlan: vlan, allowed: { $0.unicastFlood }, &sink)
            return
        }
        if !movingStatic.isEmpty, movingStatic.contains(key) {
            // The kernel has moved this static entry; until it is reprogrammed, it decides.
            trap(frame, port: ctx.port, .stationMove, &sink)
            return
        }
        if FDBValue.isPort(dest) {
            let out = Int(dest)
            guard out != ctx.port else {
                drop(.hairpin, port: ctx.port)
                return
            }
            let o = ports[out]
            guard o.stp.forwards, o.adminUp, o.linkUp, !(o.isolated && ctx.port > 0 && ports[ctx.port].isolated) else {
                drop(o.isolated ? .isolated : .stpBlocked, port: ctx.port)
                return
            }
            guard !bridge.settings.vlanFiltering || vlan.members.contains(PortID(UInt16(out))) else {
                drop(.vlanIngressFilter, port: ctx.port)
                return
            }
            guard !o.trapEgress else {
                trap(frame, port: ctx.port, .portTrap, &sink)
                return
            }
            emit(frame, pf, port: out, vid: ctx.vid, untagged: vlan.untagged.contains(PortID(UInt16(out))), bridge: bridge, &sink)
        } else if dest == FDBValue.cpu {
            trap(frame, port: ctx.port, .localAddress, &sink)
        } else {
            // Split horizon: what came out of a tunnel never goes back into one.
            guard ctx.tunnel < 0 else { return }
            guard let r = remotes[Int(dest & ~FDBValue.tunnelFlag)] else { return }
            if ctx.port > 0 {
                // A copy that would leave through an egress-trapped port: the whole frame goes up.
                let remotes = r.address == .anyIPv4 ? (tunnels[Int(r.tunnel)]?.flood ?? []) : [r.address]
                let hash = flowHash(pf)
                if remotes.contains(where: { encapsulationTrapsEgress(tunnel: r.tunnel, remote: $0, hash: hash) }) {
                    trap(frame, port: ctx.port, .portTrap, &sink)
                    return
                }
            }
            if r.address == .anyIPv4 {
                // No VTEP of its own: the device's default destinations, every flood-list
                // remote (the kernel's all-zeros entry), and no local port.
                guard let t = tunnels[Int(r.tunnel)] else { return }
                for remote in t.flood {
                    encapsulate(frame, pf, tunnel: r.tunnel, remote: remote, bridge: bridge, ingressPort: ctx.port, &sink)
                }
                return
            }
            encapsulate(frame, pf, tunnel: r.tunnel, remote: r.address, bridge: bridge, ingressPort: ctx.port, &sink)
        }
    }

    /// Why a broadcast or multicast frame in a VLAN with a router interface goes to the CPU
    /// whole: ARP, neighbour discovery, IGMP, MLD, any broadcast, and multicast to a
    /// link-local group (224.0.0.0/24, ff02::/16) — what `br_handle_frame_finish` floods
    /// *and* passes up (`local_rcv`) and the router may answer. Nil for other multicast,
    /// which the chip forwards.
    func routerBoundReason(_ pf: ParsedFrame) -> TrapReason? {
        if pf.l3 == .arp { return .arp }
        if pf.isNeighborDiscovery { return .neighborDiscovery }
        if pf.isIGMP { return .igmp }
        if pf.isMLD { return .mld }
        if pf.dst == 0xFFFF_FFFF_FFFF { return .localAddress }
        if pf.l3 == .ipv4, pf.ipv4Dst & 0xFFFF_FF00 == 0xE000_0000 { return .localAddress }
        if pf.l3 == .ipv6, pf.ipv6DstHigh >> 48 == 0xFF02 { return .localAddress }
        return nil
    }

    /// Why a frame a routed port does not forward goes to the CPU.
    func controlReason(_ pf: ParsedFrame) -> TrapReason {
        if pf.l3 == .arp { return .arp }
        if pf.isNeighborDiscovery { return .neighborDiscovery }
        if pf.isIGMP { return .igmp }
        if pf.isMLD { return .mld }
        return .localAddress
    }

    /// Whether the kernel's bridge certainly forwards snooped group traffic of a family by
    /// its MDB (`br_multicast_querier_exists`): it is its own querier, has been for the
    /// query response interval (the `delay_timer` `br_multicast_set_querier` starts), and
    /// no other querier was heard within the interval a query may start. A querier that
    /// is not the bridge (heard on a port) is not counted on: the chip cannot follow the
    /// kernel's election and timers, so it traps the traffic and the kernel decides.
    func querierExists(_ bridge: BridgeState, ipv6: Bool) -> Bool {
        guard let settles = ipv6 ? bridge.ownQuerierSettles.ipv6 : bridge.ownQuerierSettles.ipv4 else { return false }
        return now >= settles && now >= (ipv6 ? bridge.heardQueryUntil.ipv6 : bridge.heardQueryUntil.ipv4)
    }

    /// The `ownQuerierSettles` of a bridge given new settings: kept for a family that stays
    /// querier, nil for one that stops, and for one that starts now plus the response
    /// interval — the longer of the old and the new one, since the kernel applies
    /// `mcast_querier` before `mcast_query_response_interval` when one message sets both
    /// (`br_changelink`), and the kernel's default 10 s for a bridge the chip has not seen.
    func querierSettles(_ s: BridgeSettings, previous: BridgeSettings?, settles: (ipv4: UInt64?, ipv6: UInt64?)) -> (ipv4: UInt64?, ipv6: UInt64?) {
        let interval = max(s.queryResponseInterval, previous?.queryResponseInterval ?? 10_000)
        let start = now &+ UInt64(interval) &* 1_000_000
        return (s.ownQuerier.contains(.ipv4) ? settles.ipv4 ?? start : nil, s.ownQuerier.contains(.ipv6) ? settles.ipv6 ?? start : nil)
    }

    /// An IGMP or MLD query heard on a bridge port or tunnel: the kernel may distrust its
    /// MDB for up to the query's maximum response time (`br_multicast_update_query_timer`
    /// arms `delay_timer` with it), or the bridge's response interval if longer; half a
    /// second more covers the kernel hearing the query after the chip.
    func hearQuery(_ frame: UnsafeRawBufferPointer, _ pf: ParsedFrame, bridge slot: Int) {
        let o = pf.l4Offset, length = pf.l3Offset + pf.ipTotalLength - o    // the IGMP/MLD message
        var maxResponse: UInt64 = 0     // ms
        if pf.isIGMP {
            guard o + 8 <= frame.count, frame[o] == 0x11 else { return }
            let code = UInt64(frame[o + 1])
            // IGMPv1 (code 0): 10 s; v2: tenths; v3 (12+ bytes): floating point from 128.
            let tenths = code == 0 ? 100 : (length >= 12 && code >= 128)
                ? ((code & 0xF) | 0x10) << (((code >> 4) & 7) + 3) : code
            maxResponse = tenths * 100
        } else {
            guard o + 6 <= frame.count, pf.icmpType == ICMPv6Type.mldQuery else { return }
            let code = UInt64(frame[o + 4]) << 8 | UInt64(frame[o + 5])
            // MLDv1: milliseconds; MLDv2 (28+ bytes): floating point from 32768.
            maxResponse = (length >= 28 && code >= 32768) ? ((code & 0xFFF) | 0x1000) << (((code >> 12) & 7) + 3) : code
        }
        guard var b = bridges[slot] else { return }
        let until = now &+ (max(maxResponse, UInt64(b.settings.queryResponseInterval)) &+ 500) &* 1_000_000
        if pf.isIGMP { b.heardQueryUntil.ipv4 = max(b.heardQueryUntil.ipv4, until) } else { b.heardQueryUntil.ipv6 = max(b.heardQueryUntil.ipv6, until) }
        bridges[slot] = b
    }

    /// The IP group of a snoopable multicast frame (not link-local control groups, which
    /// are always flooded).
    func snoopedGroup(_ pf: ParsedFrame) -> MDBGroup? {
        if pf.l3 == .ipv4 {
            guard pf.ipv4Dst & 0xFFFF_FF00 != 0xE000_0000 else { return nil }   // 224.0.0.0/24
            return .ip(IPAddress(ipv4: pf.ipv4Dst))
        }
        if pf.l3 == .ipv6 {
            guard pf.ipv6DstHigh >> 48 != 0xFF02 else { return nil }              // link-local scope
            return .ip(IPAddress(high: pf.ipv6DstHigh, low: pf.ipv6DstLow))
        }
        return nil
    }

    /// The ports a flood of this kind reaches: VLAN members that forward, allow the flood,
    /// are up, and are not the ingress (nor isolated when the ingress is isolated).
    func floodSet(_ bridge: BridgeState, _ ctx: IngressContext, vlan: VLANEntry, allowed: (PortState) -> Bool) -> PortSet {
        let candidates = bridge.settings.vlanFiltering ? vlan.members : bridge.ports
        var set = PortSet()
        let ingressIsolated = ctx.port > 0 && ports[ctx.port].isolated
        for p in candidates {
            let i = Int(p.rawValue)
            guard i != ctx.port else { continue }
            let s = ports[i]
            guard s.stp.forwards, s.adminUp, s.linkUp, allowed(s), !(ingressIsolated && s.isolated) else { continue }
            set.insert(p)
        }
        return set
    }

    /// Whether a forwarding set includes a port whose egress the control plane keeps on the
    /// CPU: the frame then goes whole to the CPU, never both up and out.
    @inline(__always) func trapsEgress(_ set: PortSet) -> Bool {
        set.bits & egressTrapPorts.bits != 0
    }

    func flood<S: FrameSink>(_ frame: UnsafeRawBufferPointer, _ pf: ParsedFrame, _ ctx: IngressContext, vlan: VLANEntry,
                             allowed: (PortState) -> Bool, _ sink: inout S) {
        guard let bridge = bridges[ctx.bridge] else { return }
        // A flood that cannot reach one of the VNI's remote VTEPs in hardware (no underlay
        // route or neighbour yet) is trapped whole, not flooded locally with only that copy
        // trapped: the kernel floods the trapped frame to the local ports again.
        if ctx.port > 0, let reason = tunnelFloodTrapReason(pf, ctx, vlan: vlan) {
            trap(frame, port: ctx.port, reason, &sink)
            return
        }
        let set = floodSet(bridge, ctx, vlan: vlan, allowed: allowed)
        if trapsEgress(set) || (ctx.port > 0 && floodTunnelsTrapEgress(pf, ctx, vlan: vlan)) {
            trap(frame, port: ctx.port, .portTrap, &sink)
            return
        }
        let tunnels = floodTunnels(frame, pf, ctx, vlan: vlan, &sink)
        if set.isEmpty, tunnels == 0 { drop(.floodSuppressed, port: ctx.port) }
        replicate(frame, pf, ctx, vlan: vlan, to: set, &sink)
    }

    func replicate<S: FrameSink>(_ frame: UnsafeRawBufferPointer, _ pf: ParsedFrame, _ ctx: IngressContext, vlan: VLANEntry,
                                 to set: PortSet, _ sink: inout S) {
        guard let bridge = bridges[ctx.bridge] else { return }
        for p in set where Int(p.rawValue) != ctx.port {
            emit(frame, pf, port: Int(p.rawValue), vid: ctx.vid, untagged: vlan.untagged.contains(p), bridge: bridge, &sink)
        }
    }

    /// The trap reason of the first remote VTEP of the VLAN's flood list that the chip
    /// cannot encapsulate to (``underlay(_:remote:hash:)``); nil when it can reach them all.
    func tunnelFloodTrapReason(_ pf: ParsedFrame, _ ctx: IngressContext, vlan: VLANEntry) -> TrapReason? {
        guard vlan.tunnel >= 0, ctx.tunnel < 0, let t = tunnels[Int(vlan.tunnel)] else { return nil }
        let hash = flowHash(pf)
        for remote in t.flood {
            if case .failure(let reason) = underlay(t, remote: remote, hash: hash) { return reason.reason }
        }
        return nil
    }

    /// Head-end replication: one encapsulated copy per remote VTEP of the VLAN's tunnel.
    func floodTunnels<S: FrameSink>(_ frame: UnsafeRawBufferPointer, _ pf: ParsedFrame, _ ctx: IngressContext, vlan: VLANEntry,
                                    _ sink: inout S) -> Int {
        guard vlan.tunnel >= 0, ctx.tunnel < 0, let t = tunnels[Int(vlan.tunnel)], let bridge = bridges[ctx.bridge] else { return 0 }
        for remote in t.flood {
            encapsulate(frame, pf, tunnel: vlan.tunnel, remote: remote, bridge: bridge, ingressPort: ctx.port, &sink)
        }
        return t.flood.count
    }

    /// Sends to the CPU through the trap's policer.
    func trap<S: FrameSink>(_ frame: UnsafeRawBufferPointer, port: Int, _ reason: TrapReason, _ sink: inout S) {
        trapsDecided &+= 1
        guard policers[reason]!.take(now: now) else {
            trapCounters[reason, default: TrapCounters()].policerDrops &+= 1
            drops[.trapPolicer, default: 0] &+= 1
            return
        }
        trapCounters[reason, default: TrapCounters()].packets &+= 1
        // A frame that entered a LAG goes up its member, where the kernel's bond receives it.
        let id = PortID(UInt16(port > portCount ? ingressMember : port))
        post(.packetTrapped(id, reason: reason, length: frame.count))
        sink.trap(frame, port: id, reason: reason)
    }
}

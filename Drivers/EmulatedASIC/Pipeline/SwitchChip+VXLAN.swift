import SwitchDriver
import SwitchModel

extension SwitchChip {
    /// Decapsulates a VXLAN packet addressed to one of the chip's VTEPs and bridges the
    /// inner frame in the tunnel's VLAN, learning its source MAC on the remote VTEP.
    /// Returns false when the packet is not for a local VTEP (it is routed as usual).
    ///
    /// The counterpart is the kernel's `vxlan_rcv` (RFC 7348 §5).
    func decapsulate<S: FrameSink>(_ frame: UnsafeRawBufferPointer, _ pf: ParsedFrame, ingressPort: Int, _ sink: inout S) -> Bool {
        guard pf.l3 == .ipv4 else { return false }
        let local = IPAddress(ipv4: pf.ipv4Dst)
        guard let index = tunnelByVNI[pf.vxlanVNI], let t = tunnels[Int(index)] else {
            if tunnels.elements.contains(where: { $0.object.local == local && $0.object.udpPort == pf.dstPort }) {
                drop(.unknownVNI, port: ingressPort)
                return true
            }
            return false
        }
        guard t.object.local == local, t.object.udpPort == pf.dstPort else { return false }
        var inner = UnsafeRawBufferPointer(rebasing: frame[pf.innerOffset...])
        var ipf = ParsedFrame()
        if let reason = FrameParser.parse(inner, into: &ipf, options: parserOptions) {
            drop(reason, port: ingressPort)
            return true
        }
        switch ecnDecapsulate(inner, ipf, outerTOS: pf.tos) {
        case .keep: break
        case .drop:
            drop(.vxlanECN, port: ingressPort)
            return true
        case .rewritten(let frame):
            inner = frame
        }
        if ipf.dst & ~0xF == 0x0180_C200_0000 {
            // Link-local protocols (STP, LLDP) do not cross a tunnel into the bridge.
            drop(.linkLocalFromTunnel, port: ingressPort)
            return true
        }
        let ctx = IngressContext(port: 0, bridge: t.bridge, vid: t.object.vid.rawValue, tunnel: index,
                                 remote: IPAddress(ipv4: pf.ipv4Src))
        if learn(ipf.src, ctx) {
            // A static entry the kernel's bridge would move to the tunnel port: the whole
            // packet goes up, the kernel's vxlan decapsulates it and its bridge moves the entry.
            trap(frame, port: ingressPort, .stationMove, &sink)
            return true
        }
        var decapsulated = DecapsulatedSink(base: sink, outer: frame, underlay: PortID(UInt16(ingressPort)))
        bridgeForward(inner, ipf, ctx, &decapsulated)
        sink = decapsulated.base
        return true
    }

    /// Whether a bridge VLAN has a VXLAN tunnel (routing into it may encapsulate).
    func bridgeVLANHasTunnel(_ id: BridgeID, _ vid: VLANID) -> Bool {
        guard let slot = bridgeSlots[id], let b = bridges[slot] else { return false }
        return vlanTables[slot][b.vlanIndex(vid.rawValue)].tunnel >= 0
    }

    /// Sends a routed frame into a bridge VLAN with a tunnel. Should its bridging trap
    /// anything (an underlay next hop not resolved yet, say), nothing leaves: the original
    /// packet goes up its ingress port whole and the kernel routes, bridges and
    /// encapsulates it — as it would any packet the chip could not finish.
    func outputRoutedIntoTunnel<S: FrameSink>(_ routed: UnsafeRawBufferPointer, original: UnsafeRawBufferPointer,
                                             ingressPort: Int, rif: Int32, _ sink: inout S) {
        var held = HeldSink()
        outputRouted(routed, rif: rif, &held)
        if let (_, reason, _) = held.trapped.first {
            for (copy, port) in held.transmitted {
                portCounters[Int(port.rawValue)].txPackets &-= 1
                portCounters[Int(port.rawValue)].txBytes &-= UInt64(copy.count)
            }
            sink.trap(original, port: PortID(UInt16(ingressPort > portCount ? ingressMember : ingressPort)), reason: reason)
            return
        }
        for (copy, port) in held.transmitted { copy.withUnsafeBytes { sink.transmit($0, port: port) } }
    }

    /// Whether a frame encapsulated towards `remote` would leave through a port whose
    /// egress the control plane keeps on the CPU (an underlay qdisc, say).
    func encapsulationTrapsEgress(tunnel: Int32, remote: IPAddress, hash: UInt64) -> Bool {
        guard !egressTrapPorts.isEmpty, remote.isIPv4, let value = lpm4.lookup(remote.ipv4Value),
              case .forward(let rif, _) = resolve(value, hash: hash, destination: remote), let out = rifs[Int(rif)] else { return false }
        return mayLeave(out.object.binding, through: egressTrapPorts)
    }

    /// Whether any copy of a VLAN's head-end replication would leave through such a port.
    func floodTunnelsTrapEgress(_ pf: ParsedFrame, _ ctx: IngressContext, vlan: VLANEntry) -> Bool {
        guard !egressTrapPorts.isEmpty, vlan.tunnel >= 0, ctx.tunnel < 0, let t = tunnels[Int(vlan.tunnel)] else { return false }
        let hash = flowHash(pf)
        return t.flood.contains { encapsulationTrapsEgress(tunnel: vlan.tunnel, remote: $0, hash: hash) }
    }

    /// Encapsulates a bridged frame towards `remote` (outer Ethernet, IPv4, UDP, VXLAN) and
    /// sends it out of the underlay's next hop. The inner frame leaves untagged: the VNI
    /// carries the VLAN.
    ///
    /// The counterpart is the kernel's `vxlan_xmit_one` (RFC 7348 §5).
    func encapsulate<S: FrameSink>(_ frame: UnsafeRawBufferPointer, _ pf: ParsedFrame, tunnel: Int32, remote: IPAddress,
                                   bridge: BridgeState, ingressPort: Int, _ sink: inout S) {
        guard let t = tunnels[Int(tunnel)] else {
            trap(frame, port: ingressPort, .routeTrap, &sink)
            return
        }
        let hash = flowHash(pf)
        let rif: Int32, mac: UInt64, out: RouterInterfaceState
        switch underlay(t, remote: remote, hash: hash) {
        case .failure(let failure):
            trap(frame, port: ingressPort, failure.reason, &sink)
            return
        case .success(let next):
            (rif, mac, out) = next
        }
        // A VLAN-filtering bridge's tag goes (the VNI carries the VLAN); a VLAN-unaware
        // bridge forwards the frame as it came, tags and all.
        let tagged = bridge.settings.vlanFiltering && pf.tagCount > 0 && pf.outerTPID == bridge.settings.vlanProtocol
        let innerLength = frame.count - (tagged ? 4 : 0)
        let total = 50 + innerLength
        guard total <= ScratchRegion.size else { return }
        let buf = scratch + ScratchRegion.encap
        writeEthernetHeader(buf, dst: mac, src: out.object.mac.rawValue, etherType: 0x0800)
        // Outer IPv4 as the kernel's `vxlan_xmit_one` builds it: TOS from the tunnel (or the
        // inner DSCP with `tos inherit`) with the inner ECN copied out; TTL from the tunnel,
        // the inner packet (`ttl inherit`) or 64; DF per the tunnel's `df` mode.
        let header = outerHeaderFields(frame, pf, t.object)
        let ip = buf + 14
        ip.storeBytes(of: 0x45, toByteOffset: 0, as: UInt8.self)
        ip.storeBytes(of: header.tos, toByteOffset: 1, as: UInt8.self)
        ip.storeBytes(of: UInt16(total - 14).bigEndian, toByteOffset: 2, as: UInt16.self)
        ip.storeBytes(of: UInt16(0).bigEndian, toByteOffset: 4, as: UInt16.self)
        ip.storeBytes(of: UInt16(header.dontFragment ? 0x4000 : 0).bigEndian, toByteOffset: 6, as: UInt16.self)
        ip.storeBytes(of: header.ttl, toByteOffset: 8, as: UInt8.self)
        ip.storeBytes(of: UInt8(17), toByteOffset: 9, as: UInt8.self)
        ip.storeBytes(of: UInt16(0), toByteOffset: 10, as: UInt16.self)
        ip.storeBytes(of: t.object.local.ipv4Value.bigEndian, toByteOffset: 12, as: UInt32.self)
        ip.storeBytes(of: remote.ipv4Value.bigEndian, toByteOffset: 16, as: UInt32.self)
        let checksum = InternetChecksum.checksum(UnsafeRawBufferPointer(start: ip, count: 20))
        ip.storeBytes(of: checksum.bigEndian, toByteOffset: 10, as: UInt16.self)
        // UDP: the source port carries the inner flow's entropy, scaled into the tunnel's
        // range as `udp_flow_src_port` does; the checksum, unless `noudpcsum`, once the
        // datagram is complete (below).
        let udp = ip + 20
        let ports = t.object.sourcePorts
        let sourcePort = ports.lowerBound &+ UInt16(truncatingIfNeeded: (UInt64(UInt32(truncatingIfNeeded: hash)) &* UInt64(ports.count)) >> 32)
        udp.storeBytes(of: sourcePort.bigEndian, toByteOffset: 0, as: UInt16.self)
        udp.storeBytes(of: t.object.udpPort.bigEndian, toByteOffset: 2, as: UInt16.self)
        udp.storeBytes(of: UInt16(total - 34).bigEndian, toByteOffset: 4, as: UInt16.self)
        udp.storeBytes(of: UInt16(0), toByteOffset: 6, as: UInt16.self)
        // VXLAN: I flag, VNI.
        let vx = udp + 8
        vx.storeBytes(of: UInt32(0x0800_0000).bigEndian, toByteOffset: 0, as: UInt32.self)
        vx.storeBytes(of: (t.object.vni << 8).bigEndian, toByteOffset: 4, as: UInt32.self)
        let inner = vx + 8
        if tagged {
            inner.copyMemory(from: frame.baseAddress!, byteCount: 12)
            (inner + 12).copyMemory(from: frame.baseAddress! + 16, byteCount: frame.count - 16)
        } else {
            inner.copyMemory(from: frame.baseAddress!, byteCount: frame.count)
        }
        if t.object.udpChecksum {
            // The kernel's IPv4 vxlan checksums by default (`udpcsum`): pseudo-header + datagram.
            let length = total - 34
            var sum = InternetChecksum.add(UnsafeRawBufferPointer(start: ip + 12, count: 8))
            sum &+= UInt64(17) &+ UInt64(length)
            let c = InternetChecksum.checksum(UnsafeRawBufferPointer(start: udp, count: length), initial: sum)
            udp.storeBytes(of: (c == 0 ? 0xFFFF : c).bigEndian, toByteOffset: 6, as: UInt16.self)
        }
        outputRouted(UnsafeRawBufferPointer(start: buf, count: total), rif: rif, &sink)
    }
}

/// What the outer header of a decapsulated packet does to its inner one (RFC 6040 §4.2,
/// the kernel's `INET_ECN_decapsulate`).
enum ECNDecapsulation {
    case keep
    /// Outer CE over an inner packet that is not ECN-capable.
    case drop
    /// The inner frame with its ECN field changed (CE, or ECT(1) from an ECT(1) outer), in scratch.
    case rewritten(UnsafeRawBufferPointer)
}

extension SwitchChip {
    /// The outer IPv4 TOS, TTL and DF for encapsulating `pf` in `tunnel`. The inner DSCP/ECN
    /// and TTL count only for an IP packet with at most one VLAN tag (what the kernel's
    /// `skb->protocol` shows as IP once the receive path lifted the tag).
    func outerHeaderFields(_ frame: UnsafeRawBufferPointer, _ pf: ParsedFrame, _ tunnel: VXLANTunnel) -> (tos: UInt8, ttl: UInt8, dontFragment: Bool) {
        let isIP = (pf.l3 == .ipv4 || pf.l3 == .ipv6) && pf.tagCount <= 1
        let innerDS: UInt8 = isIP ? pf.tos : 0
        let dscp = tunnel.tos == 1 ? innerDS : tunnel.tos
        let innerECN = innerDS & 3
        let tos = (dscp & ~3) | (innerECN == 3 ? 2 : innerECN)
        var ttl = tunnel.ttlInherit ? (isIP ? pf.ttl : 0) : tunnel.ttl
        if ttl == 0 { ttl = 64 }
        let df: Bool = switch tunnel.dontFragment {
        case .unset: false
        case .set: true
        case .inherit: pf.l3 == .ipv6 || (pf.l3 == .ipv4 && frame[pf.l3Offset + 6] & 0x40 != 0)
        }
        return (tos, ttl, df)
    }

    /// Applies the outer ECN to a decapsulated inner frame: outer CE marks an ECN-capable
    /// inner packet CE and drops one that is not; outer ECT(1) turns inner ECT(0) into ECT(1).
    /// A non-IP inner frame is left alone, as the kernel leaves it.
    func ecnDecapsulate(_ inner: UnsafeRawBufferPointer, _ ipf: ParsedFrame, outerTOS: UInt8) -> ECNDecapsulation {
        guard ipf.l3 == .ipv4 || ipf.l3 == .ipv6 else { return .keep }
        let outer = outerTOS & 3, current = ipf.tos & 3
        let wanted: UInt8
        if current == 0 {
            return outer == 3 ? .drop : .keep
        } else if outer == 3 {
            wanted = 3
        } else if outer == 1 && current == 2 {
            wanted = 1
        } else {
            return .keep
        }
        guard wanted != current, inner.count <= ScratchRegion.size else { return .keep }
        let buf = scratch + ScratchRegion.decap
        buf.copyMemory(from: inner.baseAddress!, byteCount: inner.count)
        let l3 = buf + ipf.l3Offset
        if ipf.l3 == .ipv4 {
            let old = l3.load(fromByteOffset: 0, as: UInt16.self).bigEndian
            let new = (old & ~3) | UInt16(wanted)
            l3.storeBytes(of: new.bigEndian, toByteOffset: 0, as: UInt16.self)
            // RFC 1624 incremental update of the header checksum.
            let sum = l3.load(fromByteOffset: 10, as: UInt16.self).bigEndian
            var c = UInt32(~sum) + UInt32(~old) + UInt32(new)
            c = (c & 0xFFFF) + (c >> 16)
            c = (c & 0xFFFF) + (c >> 16)
            l3.storeBytes(of: (~UInt16(c)).bigEndian, toByteOffset: 10, as: UInt16.self)
        } else {
            // Traffic class straddles bytes 0–1: ECN is bits 4–5 of byte 1.
            let b1 = l3.load(fromByteOffset: 1, as: UInt8.self)
            l3.storeBytes(of: (b1 & ~0x30) | (wanted << 4), toByteOffset: 1, as: UInt8.self)
        }
        return .rewritten(UnsafeRawBufferPointer(start: buf, count: inner.count))
    }
}

/// Why the chip cannot encapsulate towards a remote VTEP: the trap reason.
struct UnderlayFailure: Error {
    var reason: TrapReason
}

extension SwitchChip {
    /// The underlay next hop towards `remote` for tunnel `t` (router interface, next-hop
    /// MAC), or why there is none in hardware: `route_trap` for an IPv6 underlay,
    /// `no_route`, or `unresolved_nexthop`. Encapsulation and the flood pre-check
    /// (``tunnelFloodTrapReason(_:_:vlan:)``) decide alike.
    func underlay(_ t: TunnelState, remote: IPAddress, hash: UInt64)
        -> Result<(rif: Int32, mac: UInt64, out: RouterInterfaceState), UnderlayFailure> {
        guard t.object.local.isIPv4, remote.isIPv4 else { return .failure(UnderlayFailure(reason: .routeTrap)) }
        guard let value = lpm4.lookup(remote.ipv4Value) else { return .failure(UnderlayFailure(reason: .noRoute)) }
        guard case .forward(let rif, let mac) = resolve(value, hash: hash, destination: remote), let out = rifs[Int(rif)] else {
            return .failure(UnderlayFailure(reason: .unresolvedNexthop))
        }
        return .success((rif, mac, out))
    }
}

/// The sink for a decapsulated frame's journey through the bridge. What the bridge sends to
/// the CPU goes up as the *encapsulated* packet, on the underlay port it arrived on, so the
/// kernel's own vxlan device decapsulates it and the bridge sees it on the vxlan port (as
/// mlxsw traps NVE packets): the inner frame alone has no port the kernel knows.
struct DecapsulatedSink<Base: FrameSink>: FrameSink {
    var base: Base
    let outer: UnsafeRawBufferPointer
    let underlay: PortID

    @inline(__always) mutating func transmit(_ frame: UnsafeRawBufferPointer, port: PortID) {
        base.transmit(frame, port: port)
    }

    mutating func trap(_ frame: UnsafeRawBufferPointer, port: PortID, reason: TrapReason) {
        if port.rawValue == 0 {
            base.trap(outer, port: underlay, reason: reason)
        } else {
            base.trap(frame, port: port, reason: reason)
        }
    }
}

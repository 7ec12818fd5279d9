import SwitchDriver
import SwitchModel

/// What the router decided for one packet.
enum RouteVerdict {
    case forward(rif: Int32, mac: UInt64)
    case trap(TrapReason)
    case drop
}

extension SwitchChip {
    /// Routes a frame addressed to the MAC of router interface `rif` (its index). VXLAN to a
    /// local VTEP is decapsulated first (local delivery); an IP packet of a family `rif`
    /// does not route is trapped (`routing_disabled`), so the kernel decides — as its
    /// ingress device's forwarding switch says (`ip_route_input_slow`: `IN_DEV_FORWARD`).
    /// `ingressPort` 0: the frame came out of a tunnel (its traps go up encapsulated).
    func route<S: FrameSink>(_ frame: UnsafeRawBufferPointer, _ pf: ParsedFrame, ingressPort: Int, rif: Int32,
                             _ sink: inout S) {
        if pf.isVXLAN, ingressPort > 0, decapsulate(frame, pf, ingressPort: ingressPort, &sink) { return }
        if rif >= 0, pf.l3 == .ipv4 || pf.l3 == .ipv6, let r = rifs[Int(rif)],
           !r.object.routedFamilies.contains(pf.l3 == .ipv4 ? .ipv4 : .ipv6) {
            trap(frame, port: ingressPort, pf.isNeighborDiscovery ? .neighborDiscovery : .routingDisabled, &sink)
            return
        }
        let verdict: RouteVerdict
        switch pf.l3 {
        case .ipv4:
            if pf.ipv4Dst >> 28 == 0xE || pf.ipv4Dst == 0xFFFF_FFFF {
                trap(frame, port: ingressPort, .routeTrap, &sink)
                return
            }
            guard let value = lookup4(pf.ipv4Dst, table: rif >= 0 ? rifs[Int(rif)]?.object.vrf ?? 254 : 254) else {
                trap(frame, port: ingressPort, .noRoute, &sink)
                return
            }
            verdict = resolve(value, hash: flowHash(pf), destination: IPAddress(ipv4: pf.ipv4Dst))
        case .ipv6:
            if pf.ipv6DstHigh >> 56 == 0xFF || pf.ipv6DstHigh >> 54 == 0x3FA {   // multicast, fe80::/10
                trap(frame, port: ingressPort, pf.isNeighborDiscovery ? .neighborDiscovery : .routeTrap, &sink)
                return
            }
            guard let value = lookup6(high: pf.ipv6DstHigh, low: pf.ipv6DstLow,
                                      table: rif >= 0 ? rifs[Int(rif)]?.object.vrf ?? 254 : 254) else {
                trap(frame, port: ingressPort, .noRoute, &sink)
                return
            }
            verdict = resolve(value, hash: flowHash(pf), destination: IPAddress(high: pf.ipv6DstHigh, low: pf.ipv6DstLow))
        case .arp:
            trap(frame, port: ingressPort, .arp, &sink)
            return
        default:
            trap(frame, port: ingressPort, .localAddress, &sink)
            return
        }
        switch verdict {
        case .drop:
            drop(.blackhole, port: ingressPort)
        case .trap(let reason):
            trap(frame, port: ingressPort, pf.isNeighborDiscovery && reason == .localAddress ? .neighborDiscovery : reason, &sink)
        case .forward(let outRIF, let mac):
            guard pf.ttl > 1 else {
                trap(frame, port: ingressPort, .ttlExpired, &sink)
                return
            }
            if pf.l3 == .ipv4, pf.hasIPOptions {
                trap(frame, port: ingressPort, .ipOptions, &sink)
                return
            }
            // Back out of the interface it came in on: the kernel forwards it and may also
            // send the source an ICMP redirect (ip_forward / ip6_forward: send_redirects,
            // which no netlink message carries, and a per-peer rate limit), so it decides.
            if outRIF == rif {
                trap(frame, port: ingressPort, .redirect, &sink)
                return
            }
            guard let out = rifs[Int(outRIF)] else { return }
            // Out of a port whose egress stays on the CPU: the kernel routes the original.
            if !egressTrapPorts.isEmpty, mayLeave(out.object.binding, through: egressTrapPorts, hash: flowHash(pf)) {
                trap(frame, port: ingressPort, .portTrap, &sink)
                return
            }
            // The IP packet without the Ethernet padding that may follow it.
            let ipLength = pf.ipTotalLength
            guard UInt32(ipLength) <= out.object.mtu else {
                trap(frame, port: ingressPort, .mtuExceeded, &sink)
                return
            }
            guard ipLength + 14 <= ScratchRegion.size else { return }
            let buf = scratch + ScratchRegion.routed
            writeEthernetHeader(buf, dst: mac, src: out.object.mac.rawValue, etherType: pf.etherType)
            (buf + 14).copyMemory(from: frame.baseAddress! + pf.l3Offset, byteCount: ipLength)
            let ip = buf + 14
            if pf.l3 == .ipv4 {
                // TTL − 1, checksum patched incrementally (RFC 1624).
                let oldWord = UInt16(pf.ttl) << 8 | UInt16(pf.ipProtocol)
                let newWord = UInt16(pf.ttl - 1) << 8 | UInt16(pf.ipProtocol)
                ip.storeBytes(of: pf.ttl - 1, toByteOffset: 8, as: UInt8.self)
                let old = UInt16(bigEndian: ip.loadUnaligned(fromByteOffset: 10, as: UInt16.self))
                ip.storeBytes(of: InternetChecksum.update(checksum: old, old: oldWord, new: newWord).bigEndian,
                              toByteOffset: 10, as: UInt16.self)
            } else {
                ip.storeBytes(of: pf.ttl - 1, toByteOffset: 7, as: UInt8.self)
            }
            if case .bridge(let id, let vid) = out.object.binding, bridgeVLANHasTunnel(id, vid) {
                // Unpadded: the kernel encapsulates the routed packet as it is.
                outputRoutedIntoTunnel(UnsafeRawBufferPointer(start: buf, count: 14 + ipLength), original: frame,
                                       ingressPort: ingressPort, rif: outRIF, &sink)
                return
            }
            // Pad to the 60-byte Ethernet minimum, as a MAC does.
            let length = max(14 + ipLength, 60)
            if length > 14 + ipLength { (buf + 14 + ipLength).initializeMemory(as: UInt8.self, repeating: 0, count: length - 14 - ipLength) }
            outputRouted(UnsafeRawBufferPointer(start: buf, count: length), rif: outRIF, &sink)
        }
    }

    /// Whether a frame routed out of `binding` may leave through one of `ports`: the port
    /// itself, or any port of the bridge VLAN (the FDB decides later which one).
    /// A bridge VLAN with a VXLAN tunnel also counts the underlay of every remote VTEP
    /// it may encapsulate to (its flood list and the remotes of its FDB), with the
    /// routed packet's flow `hash` (the encapsulation's ECMP choice).
    func mayLeave(_ binding: RouterInterfaceBinding, through ports: PortSet, hash: UInt64 = 0) -> Bool {
        switch binding {
        case .port(let p):
            return ports.contains(p)
        case .bridge(let id, let vid):
            guard let slot = bridgeSlots[id], let b = bridges[slot] else { return false }
            let vlan = vlanTables[slot][b.vlanIndex(vid.rawValue)]
            let members = b.settings.vlanFiltering ? vlan.members : b.ports
            if !(members & ports).isEmpty { return true }
            guard vlan.tunnel >= 0, let t = tunnels[Int(vlan.tunnel)] else { return false }
            if t.flood.contains(where: { encapsulationTrapsEgress(tunnel: vlan.tunnel, remote: $0, hash: hash) }) { return true }
            return remotes.elements.contains { $0.tunnel == vlan.tunnel && encapsulationTrapsEgress(tunnel: vlan.tunnel, remote: $0.address, hash: hash) }
        }
    }

    /// The route of `dst` for a packet looked up in `table`, in the kernel's rule order:
    /// the local table first (rule 0 — its addresses, held in main as local-address traps),
    /// then the VRF's table (the l3mdev rule), then main when the VRF's table has no match
    /// (`fib_rules_lookup` goes on to rule 32766 after a table without one: `-EAGAIN`).
    @inline(__always) func lookup4(_ dst: UInt32, table: UInt32) -> UInt32? {
        let main = lpm4.lookup(dst)
        guard table != 254, main != RouteValue.localAddress else { return main }
        return vrfLPM4[table]?.lookup(dst) ?? main
    }

    @inline(__always) func lookup6(high: UInt64, low: UInt64, table: UInt32) -> UInt32? {
        let main = lpm6.lookup(high: high, low: low)
        guard table != 254, main != RouteValue.localAddress else { return main }
        return vrfLPM6[table]?.lookup(high: high, low: low) ?? main
    }

    /// Turns an LPM value into a verdict: the next hop's interface and MAC, a trap, or a drop.
    @inline(__always) func resolve(_ value: UInt32, hash: UInt64, destination: IPAddress) -> RouteVerdict {
        let payload = Int(RouteValue.payload(value))
        switch RouteValue.kind(value) {
        case RouteValue.nexthopKind:
            return nexthopVerdict(payload)
        case RouteValue.groupKind:
            guard let g = groups[payload], !g.slots.isEmpty else { return .trap(.unresolvedNexthop) }
            return nexthopVerdict(Int(g.slots[Int(hash % UInt64(g.slots.count))]))
        case RouteValue.attachedKind:
            guard let mac = neighbors[NeighborKey(rif: Int32(payload), address: destination)] else { return .trap(.unresolvedNexthop) }
            return .forward(rif: Int32(payload), mac: mac)
        default:
            if payload == 0 { return .drop }
            return .trap(TrapReason.allCases[payload - 1])
        }
    }

    @inline(__always) func nexthopVerdict(_ index: Int) -> RouteVerdict {
        guard let nh = nexthops[index], nh.resolved else { return .trap(.unresolvedNexthop) }
        return .forward(rif: nh.rif, mac: nh.mac)
    }
}

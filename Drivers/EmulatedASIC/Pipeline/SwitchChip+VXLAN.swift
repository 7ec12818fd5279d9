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
        let inner = UnsafeRawBufferPointer(rebasing: frame[pf.innerOffset...])
        var ipf = ParsedFrame()
        if let reason = FrameParser.parse(inner, into: &ipf, options: parserOptions) {
            drop(reason, port: ingressPort)
            return true
        }
        if ipf.dst & ~0xF == 0x0180_C200_0000 {
            // Link-local protocols (STP, LLDP) do not cross a tunnel into the bridge.
            drop(.linkLocalFromTunnel, port: ingressPort)
            return true
        }
        let ctx = IngressContext(port: 0, bridge: t.bridge, vid: t.object.vid.rawValue, tunnel: index,
                                 remote: IPAddress(ipv4: pf.ipv4Src))
        learn(ipf.src, ctx)
        var decapsulated = DecapsulatedSink(base: sink, outer: frame, underlay: PortID(UInt16(ingressPort)))
        bridgeForward(inner, ipf, ctx, &decapsulated)
        sink = decapsulated.base
        return true
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
        let tagged = pf.tagCount > 0 && pf.outerTPID == bridge.settings.vlanProtocol
        let innerLength = frame.count - (tagged ? 4 : 0)
        let total = 50 + innerLength
        guard total <= ScratchRegion.size else { return }
        let buf = scratch + ScratchRegion.encap
        writeEthernetHeader(buf, dst: mac, src: out.object.mac.rawValue, etherType: 0x0800)
        // Outer IPv4: DF clear and TTL 64 unless the tunnel sets one, as the kernel's vxlan
        // sends by default (`df unset`, `ttl auto`).
        let ip = buf + 14
        ip.storeBytes(of: UInt16(0x4500).bigEndian, toByteOffset: 0, as: UInt16.self)
        ip.storeBytes(of: UInt16(total - 14).bigEndian, toByteOffset: 2, as: UInt16.self)
        ip.storeBytes(of: UInt16(0).bigEndian, toByteOffset: 4, as: UInt16.self)
        ip.storeBytes(of: UInt16(0).bigEndian, toByteOffset: 6, as: UInt16.self)
        ip.storeBytes(of: t.object.ttl == 0 ? 64 : t.object.ttl, toByteOffset: 8, as: UInt8.self)
        ip.storeBytes(of: UInt8(17), toByteOffset: 9, as: UInt8.self)
        ip.storeBytes(of: UInt16(0), toByteOffset: 10, as: UInt16.self)
        ip.storeBytes(of: t.object.local.ipv4Value.bigEndian, toByteOffset: 12, as: UInt32.self)
        ip.storeBytes(of: remote.ipv4Value.bigEndian, toByteOffset: 16, as: UInt32.self)
        let checksum = InternetChecksum.checksum(UnsafeRawBufferPointer(start: ip, count: 20))
        ip.storeBytes(of: checksum.bigEndian, toByteOffset: 10, as: UInt16.self)
        // UDP: the source port carries the inner flow's entropy; checksum 0 (RFC 7348).
        let udp = ip + 20
        udp.storeBytes(of: UInt16(49152 + hash % 16384).bigEndian, toByteOffset: 0, as: UInt16.self)
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
        outputRouted(UnsafeRawBufferPointer(start: buf, count: total), rif: rif, &sink)
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

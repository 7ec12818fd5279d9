import SwitchDriver
import SwitchModel

/// Scratch regions: egress tag rewrite, routed frames, encapsulated frames. Distinct, so
/// a routed or encapsulated frame can still be re-tagged on its way out.
enum ScratchRegion {
    static let size = 10_240
    static let egress = 0
    static let routed = size
    static let encap = 2 * size
    /// A decapsulated inner frame whose ECN field the outer header changes.
    static let decap = 3 * size
}

extension SwitchChip {
    @inline(__always) func transmit<S: FrameSink>(_ frame: UnsafeRawBufferPointer, port: Int, _ sink: inout S) {
        var port = port
        if port > portCount {
            // A LAG: the member the kernel's bond would send through.
            guard let member = lagMember(frame, lag: port), ports[member].adminUp, ports[member].linkUp else {
                drop(.portDown, port: 0)
                return
            }
            port = member
        }
        portCounters[port].txPackets &+= 1
        portCounters[port].txBytes &+= UInt64(frame.count)
        sink.transmit(frame, port: PortID(UInt16(port)))
    }

    /// Sends a bridged frame out of `port` in VLAN `vid`, pushing, rewriting or popping the
    /// 802.1Q/802.1ad tag as the port's membership says.
    @inline(__always)
    func emit<S: FrameSink>(_ frame: UnsafeRawBufferPointer, _ pf: ParsedFrame, port: Int, vid: UInt16, untagged: Bool,
                            bridge: BridgeState, _ sink: inout S) {
        emit(frame, tagged: pf.tagCount > 0 && pf.outerTPID == bridge.settings.vlanProtocol, tagVID: pf.outerVID,
             port: port, vid: vid, untagged: untagged, filtering: bridge.settings.vlanFiltering,
             tpid: bridge.settings.vlanProtocol, &sink)
    }

    @inline(__always)
    func emit<S: FrameSink>(_ frame: UnsafeRawBufferPointer, tagged: Bool, tagVID: UInt16, port: Int, vid: UInt16,
                            untagged: Bool, filtering: Bool, tpid: UInt16, _ sink: inout S) {
        guard filtering else {
            transmit(frame, port: port, &sink)
            return
        }
        let out = scratch + ScratchRegion.egress
        if untagged {
            guard tagged else {
                transmit(frame, port: port, &sink)
                return
            }
            // Pop: MACs, then everything after the tag.
            let rest = frame.count - 16
            guard rest >= 2, frame.count <= ScratchRegion.size else { return }
            out.copyMemory(from: frame.baseAddress!, byteCount: 12)
            (out + 12).copyMemory(from: frame.baseAddress! + 16, byteCount: rest)
            transmit(UnsafeRawBufferPointer(start: out, count: frame.count - 4), port: port, &sink)
        } else if tagged {
            guard tagVID != vid else {
                transmit(frame, port: port, &sink)
                return
            }
            guard frame.count <= ScratchRegion.size else { return }
            out.copyMemory(from: frame.baseAddress!, byteCount: frame.count)
            let tci = (UInt16(frame[14]) << 8 | UInt16(frame[15])) & 0xF000 | vid
            out.storeBytes(of: tci.bigEndian, toByteOffset: 14, as: UInt16.self)
            transmit(UnsafeRawBufferPointer(start: out, count: frame.count), port: port, &sink)
        } else {
            // Push (a priority tag, VID 0, is replaced by the real VID).
            guard frame.count + 4 <= ScratchRegion.size else { return }
            let priorityTagged = frame.count >= 18 && (UInt16(frame[12]) << 8 | UInt16(frame[13])) == tpid
            let skip = priorityTagged ? 16 : 12
            let pcp: UInt16 = priorityTagged ? (UInt16(frame[14]) << 8) & 0xE000 : 0
            out.copyMemory(from: frame.baseAddress!, byteCount: 12)
            out.storeBytes(of: tpid.bigEndian, toByteOffset: 12, as: UInt16.self)
            out.storeBytes(of: (pcp | vid).bigEndian, toByteOffset: 14, as: UInt16.self)
            (out + 16).copyMemory(from: frame.baseAddress! + skip, byteCount: frame.count - skip)
            let length = 16 + frame.count - skip
            transmit(UnsafeRawBufferPointer(start: out, count: length), port: port, &sink)
        }
    }

    /// Sends an untagged frame that the router built (dst MAC already the next hop's) out
    /// of router interface `rif`: a routed port directly, a bridge VLAN through its FDB.
    func outputRouted<S: FrameSink>(_ frame: UnsafeRawBufferPointer, rif: Int32, _ sink: inout S) {
        guard let r = rifs[Int(rif)] else { return }
        switch r.object.binding {
        case .port(let p):
            let i = Int(p.rawValue)
            guard ports[i].adminUp, ports[i].linkUp else {
                drop(.portDown, port: 0)
                return
            }
            transmit(frame, port: i, &sink)
        case .bridge(let id, let vid):
            guard let slot = bridgeSlots[id] else { return }
            var pf = ParsedFrame()
            guard FrameParser.parse(frame, into: &pf, options: parserOptions) == nil else { return }
            bridgeForward(frame, pf, IngressContext(port: 0, bridge: slot, vid: vid.rawValue), &sink)
        }
    }

    /// Writes an untagged Ethernet header (MACs in `MACAddress.rawValue` layout).
    @inline(__always) func writeEthernetHeader(_ buf: UnsafeMutableRawPointer, dst: UInt64, src: UInt64, etherType: UInt16) {
        buf.storeBytes(of: UInt16(truncatingIfNeeded: dst >> 32).bigEndian, toByteOffset: 0, as: UInt16.self)
        buf.storeBytes(of: UInt32(truncatingIfNeeded: dst).bigEndian, toByteOffset: 2, as: UInt32.self)
        buf.storeBytes(of: UInt16(truncatingIfNeeded: src >> 32).bigEndian, toByteOffset: 6, as: UInt16.self)
        buf.storeBytes(of: UInt32(truncatingIfNeeded: src).bigEndian, toByteOffset: 8, as: UInt32.self)
        buf.storeBytes(of: etherType.bigEndian, toByteOffset: 12, as: UInt16.self)
    }

    /// A 5-tuple hash for ECMP and VXLAN source ports.
    @inline(__always) func flowHash(_ pf: ParsedFrame) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15
        if pf.l3 == .ipv4 {
            h ^= UInt64(pf.ipv4Src) << 32 | UInt64(pf.ipv4Dst)
        } else if pf.l3 == .ipv6 {
            h ^= pf.ipv6SrcLow ^ pf.ipv6SrcHigh.rotated(17) ^ pf.ipv6DstLow.rotated(31) ^ pf.ipv6DstHigh.rotated(47)
        } else {
            h ^= pf.src ^ pf.dst.rotated(24)
        }
        h = (h ^ (h >> 31)) &* 0xBF58_476D_1CE4_E5B9
        h ^= UInt64(pf.ipProtocol) << 32 | UInt64(pf.srcPort) << 16 | UInt64(pf.dstPort)
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 31)
    }
}

extension UInt64 {
    @inline(__always) func rotated(_ n: UInt64) -> UInt64 { self << n | self >> (64 - n) }
}

import SwitchDriver
import SwitchModel

/// A LAG in the chip: its members, and the ones frames leave through, by port index.
struct LAGState {
    var object: HardwareLAG
    var distributing: [Int]
}

/// Link aggregation in the data path. A frame arriving on a collecting member is processed
/// as if it arrived on the LAG's logical port (`PortState.lag`); one arriving on another
/// member goes to the CPU whole, on the member. A frame sent out of the logical port leaves
/// through the distributing member the kernel bond would pick (`bond_xmit_3ad_xor_slave_get`:
/// `usable_slaves[hash % count]`).
extension SwitchChip {
    /// The front-panel member a frame sent out of LAG port `lag` leaves through; nil when
    /// the LAG distributes through none (the kernel bond drops it too).
    @inline(__always) func lagMember(_ frame: UnsafeRawBufferPointer, lag: Int) -> Int? {
        guard let l = lags[lag], !l.distributing.isEmpty else { return nil }
        if l.distributing.count == 1 { return l.distributing[0] }
        let hash = Self.bondHash(frame, policy: l.object.hash)
        return l.distributing[Int(hash % UInt32(l.distributing.count))]
    }

    /// A LAG's logical link is up while one of its members' links is (the kernel's bond
    /// has carrier while a slave has); a LAG that goes down forgets what it learned.
    func refreshLAGLink(_ lag: Int) {
        guard let l = lags[lag] else { return }
        let up = l.object.members.contains { ports[Int($0.rawValue)].linkUp }
        guard ports[lag].linkUp != up else { return }
        ports[lag].linkUp = up
        if !up { flushLearned(port: lag) }
    }

    /// The kernel bond's transmit hash of a frame as it leaves (`__bond_xmit_hash`, Linux
    /// 6.1), for the policies a chip LAG takes. The kernel holds the outermost VLAN tag
    /// outside the frame (`skb->vlan_tci`), so the hash skips it: the EtherType and the
    /// network header are the ones after it.
    static func bondHash(_ f: UnsafeRawBufferPointer, policy: LAGHash) -> UInt32 {
        guard f.count >= 14 else { return 0 }
        func be16(_ o: Int) -> UInt32 { UInt32(f[o]) << 8 | UInt32(f[o + 1]) }
        func le32(_ o: Int) -> UInt32 { UInt32(f[o]) | UInt32(f[o + 1]) << 8 | UInt32(f[o + 2]) << 16 | UInt32(f[o + 3]) << 24 }
        var proto = be16(12), nh = 14, tci: UInt32 = 0
        if (proto == 0x8100 || proto == 0x88A8), f.count >= 18 {
            tci = be16(14)
            proto = be16(16)
            nh = 18
        }
        if policy == .vlanSrcMAC {
            // bond_vlan_srcmac_hash: the TCI, the OUI and the rest of the source MAC.
            return tci ^ (UInt32(f[6]) << 16 | UInt32(f[7]) << 8 | UInt32(f[8])) ^ (UInt32(f[9]) << 16 | UInt32(f[10]) << 8 | UInt32(f[11]))
        }
        // bond_eth_hash
        let ethHash = UInt32(f[5]) ^ UInt32(f[11]) ^ proto
        guard policy != .layer2 else { return ethHash }
        let l34 = policy == .layer34
        var src: UInt32 = 0, dst: UInt32 = 0, ports: UInt32 = 0, ipProto = -1
        // bond_flow_ip: the addresses, the L4 protocol (none for a fragment), the ports.
        func flowIP(_ nh: inout Int) -> Bool {
            if proto == 0x0800 {
                guard nh + 20 <= f.count else { return false }
                src = le32(nh + 12)
                dst = le32(nh + 16)
                let fragment = be16(nh + 6) & 0x3FFF != 0
                let header = Int(f[nh] & 0xF) << 2
                if !fragment { ipProto = Int(f[nh + 9]) }
                nh += header
            } else if proto == 0x86DD {
                guard nh + 40 <= f.count else { return false }
                src = le32(nh + 8) ^ le32(nh + 12) ^ le32(nh + 16) ^ le32(nh + 20)
                dst = le32(nh + 24) ^ le32(nh + 28) ^ le32(nh + 32) ^ le32(nh + 36)
                ipProto = Int(f[nh + 6])
                nh += 40
            } else {
                return false
            }
            if l34, ipProto >= 0 {
                // __skb_flow_get_ports: 4 bytes at proto_ports_offset (TCP, UDP, DCCP, ESP's
                // SPI, SCTP, UDP-Lite at 0; AH's SPI at 4), raw.
                let offset: Int? = switch ipProto {
                case 6, 17, 33, 50, 132, 136: 0
                case 51: 4
                default: nil
                }
                ports = offset.map { nh + $0 + 4 <= f.count ? le32(nh + $0) : 0 } ?? 0
            }
            return true
        }
        var icmp: UInt32 = 0    // struct flow_dissector_key_icmp: type, code, id (host order)
        var offset = nh
        guard flowIP(&offset) else { return ethHash }
        if ipProto == 1 || ipProto == 58 {
            // skb_flow_get_icmp_tci; an error's embedded header is the flow (bond_flow_dissect).
            let icmpv4 = ipProto == 1
            if offset + 8 <= f.count {
                let type = f[offset], code = f[offset + 1]
                var id: UInt32 = 0
                if [0, 8, 13, 14, 128, 129].contains(type) {    // icmp_has_id
                    id = be16(offset + 4)
                    if id == 0 { id = 1 }
                }
                icmp = UInt32(type) | UInt32(code) << 8 | id << 16
                let isError = icmpv4 ? [3, 4, 5, 11, 12].contains(type) : [1, 2, 3, 4].contains(type)
                if isError {
                    offset += 8
                    guard flowIP(&offset) else { return ethHash }
                }
            }
        }
        var hash: UInt32
        if l34 {
            hash = icmp >> 16 != 0 ? icmp : ports
        } else {
            hash = ethHash
        }
        // bond_ip_hash
        hash ^= dst ^ src
        hash ^= hash >> 16
        hash ^= hash >> 8
        return l34 ? hash >> 1 : hash
    }
}

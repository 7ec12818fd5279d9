import Netlink
import SwitchModel
import Testing

/// tc filters this machine's kernel cannot make (it has no classifiers): `RTM_NEWTFILTER`
/// built to the kernel's format (`fl_dump`, `mall_dump`, `tcf_gact_dump`) and decoded.
@Suite("Decoders: tc flower and matchall")
struct TCClassifierDecoderTests {
    static let RTM_NEWTFILTER: UInt16 = 44

    /// `struct tcmsg`: family, pads, ifindex, handle, parent, info (prio << 16 | protocol, network order).
    static func tcmsg(index: UInt32, handle: UInt32, priority: UInt16, proto: UInt16) -> [UInt8] {
        [0, 0, 0, 0] + Fixtures.le32(index) + Fixtures.le32(handle) + Fixtures.le32(0xFFFF_FFF2)
            + Fixtures.le32(UInt32(priority) << 16 | UInt32(proto.bigEndian))
    }

    /// One `gact` action (`TCA_ACT_KIND` "gact", `TCA_GACT_PARMS` = `struct tc_gact`).
    static func gact(_ b: NetlinkMessageBuilder, verdict: Int32, random: Bool = false) {
        b.nest(1) { a in
            a.put(1, string: "gact")
            a.nest(2) { o in
                o.put(2, bytes: Fixtures.le32(1) + Fixtures.le32(0) + Fixtures.le32(UInt32(bitPattern: verdict)) + Fixtures.le32(1) + Fixtures.le32(1))
                if random { o.put(3, bytes: [UInt8](repeating: 0, count: 8)) }
            }
        }
    }

    static func flower(handle: UInt32 = 1, chain: UInt32? = nil, _ options: (NetlinkMessageBuilder) -> Void) -> [UInt8] {
        let b = NetlinkMessageBuilder(type: RTM_NEWTFILTER)
        b.append(header: tcmsg(index: 11, handle: handle, priority: 10, proto: 0x0800))
        b.put(1, string: "flower")
        if let chain { b.put(11, u32: chain) }
        b.nest(2, options)
        return b.bytes
    }

    static func classifier(_ bytes: [UInt8]) throws -> TCClassifier? {
        let (messages, malformed) = try Fixtures.decode([bytes])
        #expect(malformed == 0)
        guard case .newTCFilter(let f)? = messages.first else { Issue.record("no filter in \(messages)"); return nil }
        #expect(f.key.priority == 10 && f.etherType == 0x0800 && f.kind == "flower")
        return f.classifier
    }

    @Test("flower src_ip 10.0.0.0/24 ip_proto tcp dst_port 22 dst_mac … action drop: every key and mask, the verdict")
    func flowerKeys() throws {
        let c = try #require(try Self.classifier(Self.flower { o in
            o.put(4, bytes: [2, 0, 0, 0, 0, 9]); o.put(5, bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0])   // ETH_DST, _MASK
            o.put(8, be16: 0x0800)                                                                     // ETH_TYPE
            o.put(9, u8: 6)                                                                            // IP_PROTO tcp
            o.put(10, bytes: [10, 0, 0, 0]); o.put(11, bytes: [255, 255, 255, 0])                       // IPV4_SRC, _MASK
            o.put(19, be16: 22); o.put(36, be16: 0xFFFF)                                               // TCP_DST, _MASK
            o.put(22, u32: 8)                                                                          // FLAGS: not_in_hw
            o.put(86, u32: 0)                                                                          // IN_HW_COUNT
            o.nest(3) { Self.gact($0, verdict: 2) }                                                    // ACT: drop
        }))
        var m = FlowMatch()
        (m.dstMAC, m.dstMACMask, m.ethType, m.ipProto, m.ipProtoMask) = (0x0200_0000_0009, 0xFFFF_FFFF_FF00, 0x0800, 6, 0xFF)
        (m.ipv4Src, m.ipv4SrcMask, m.dstPort, m.dstPortMask) = (0x0A00_0000, 0xFFFF_FF00, 22, 0xFFFF)
        #expect(c == TCClassifier(chain: 0, match: m, verdict: .drop, skipHardware: false, unsupported: nil))
        #expect(m.description == "dst_mac 02:00:00:00:00:09/ff:ff:ff:ff:ff:00 ip_proto tcp src_ip 10.0.0.0/24 dst_port 22")
    }

    @Test("no action is pass; trap; skip_hw; a chain; keys, actions and verdicts the chip lacks are named")
    func verdictsAndLimits() throws {
        #expect(try Self.classifier(Self.flower { $0.put(8, be16: 0x0800) })?.verdict == .pass)
        #expect(try Self.classifier(Self.flower { o in o.nest(3) { Self.gact($0, verdict: 8) } })?.verdict == .trap)
        #expect(try Self.classifier(Self.flower { $0.put(22, u32: 1) })?.skipHardware == true)
        #expect(try Self.classifier(Self.flower(chain: 3) { _ in })?.chain == 3)
        #expect(try Self.classifier(Self.flower { $0.put(23, u16: 5) })?.unsupported == "flower key 23 (vlan_id)")
        #expect(try Self.classifier(Self.flower { o in o.nest(3) { Self.gact($0, verdict: -1) } })?.unsupported == "action gact continue")
        #expect(try Self.classifier(Self.flower { o in o.nest(3) { Self.gact($0, verdict: 0x2000_0005) } })?.unsupported == "action gact goto chain 5")
        #expect(try Self.classifier(Self.flower { o in o.nest(3) { Self.gact($0, verdict: 2, random: true) } })?.unsupported == "action gact random")
        #expect(try Self.classifier(Self.flower { o in
            o.nest(3) { a in Self.gact(a, verdict: 0); a.nest(2) { m in m.put(1, string: "mirred") } }
        })?.unsupported == "2 actions")
        #expect(try Self.classifier(Self.flower { o in o.nest(3) { a in a.nest(1) { m in m.put(1, string: "mirred") } } })?.unsupported == "action mirred")
    }

    @Test("matchall action drop; its classid is not the chip's")
    func matchall() throws {
        let b = NetlinkMessageBuilder(type: Self.RTM_NEWTFILTER)
        b.append(header: Self.tcmsg(index: 11, handle: 1, priority: 10, proto: 0x0800))
        b.put(1, string: "matchall")
        b.nest(2) { o in o.nest(2) { Self.gact($0, verdict: 2) } }
        let (messages, _) = try Fixtures.decode([b.bytes])
        guard case .newTCFilter(let f)? = messages.first else { Issue.record("no filter"); return }
        #expect(f.classifier == TCClassifier(verdict: .drop))
        let withClass = NetlinkMessageBuilder(type: Self.RTM_NEWTFILTER)
        withClass.append(header: Self.tcmsg(index: 11, handle: 1, priority: 10, proto: 0x0800))
        withClass.put(1, string: "matchall")
        withClass.nest(2) { o in o.put(1, u32: 0x10001) }
        guard case .newTCFilter(let g)? = try Fixtures.decode([withClass.bytes]).0.first else { Issue.record("no filter"); return }
        #expect(g.classifier?.unsupported == "matchall classid")
    }
}

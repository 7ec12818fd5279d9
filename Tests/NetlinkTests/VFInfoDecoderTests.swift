import Foundation
import Netlink
import SwitchModel
import Testing

/// SR-IOV VF lists (`IFLA_VFINFO_LIST`), which this machine has no NIC to produce.
@Suite("VF info decoding")
struct VFInfoDecoderTests {
    static func le32s(_ values: [UInt32]) -> [UInt8] { values.flatMap(Fixtures.le32) }

    /// An `IFLA_VF_INFO` nest as `rtnl_fill_vfinfo` writes it (6.1): MAC, VLAN, VLAN list,
    /// TX rate, rate, spoof check, link state, RSS query, trust.
    static func vfInfo(_ b: NetlinkMessageBuilder, vf: UInt32, mac: [UInt8], vlan: UInt32, qos: UInt32, proto: UInt16,
                       spoofchk: UInt32, trust: UInt32, state: UInt32, minRate: UInt32, maxRate: UInt32) {
        b.nest(1) { i in                                                     // IFLA_VF_INFO
            i.put(1, bytes: le32s([vf]) + mac + [UInt8](repeating: 0, count: 32 - mac.count))   // IFLA_VF_MAC
            i.put(2, bytes: le32s([vf, vlan, qos]))                          // IFLA_VF_VLAN
            i.nest(12) { l in                                                // IFLA_VF_VLAN_LIST
                l.put(1, bytes: le32s([vf, vlan, qos]) + withUnsafeBytes(of: proto.bigEndian, Array.init) + [0, 0])  // IFLA_VF_VLAN_INFO
            }
            i.put(3, bytes: le32s([vf, maxRate]))                            // IFLA_VF_TX_RATE
            i.put(6, bytes: le32s([vf, minRate, maxRate]))                   // IFLA_VF_RATE
            i.put(4, bytes: le32s([vf, spoofchk]))                           // IFLA_VF_SPOOFCHK
            i.put(5, bytes: le32s([vf, state]))                              // IFLA_VF_LINK_STATE
            i.put(7, bytes: le32s([vf, UInt32.max]))                         // IFLA_VF_RSS_QUERY_EN
            i.put(9, bytes: le32s([vf, trust]))                              // IFLA_VF_TRUST
        }
    }

    /// A PF's `RTM_NEWLINK` with `IFLA_NUM_VF` and two VFs.
    static func pfLink() -> [UInt8] {
        let b = NetlinkMessageBuilder(type: Fixtures.RTM_NEWLINK)
        b.append(header: Fixtures.ifinfomsg(index: 5, flags: 0x1003))
        b.put(3, string: "eth0")                 // IFLA_IFNAME
        b.put(4, u32: 1500)                      // IFLA_MTU
        b.put(21, u32: 2)                        // IFLA_NUM_VF
        b.nest(22) { list in                     // IFLA_VFINFO_LIST
            vfInfo(list, vf: 0, mac: [2, 0, 0, 0, 0, 0x10], vlan: 10, qos: 3, proto: 0x8100,
                   spoofchk: 1, trust: 1, state: 1, minRate: 0, maxRate: 10)
            vfInfo(list, vf: 1, mac: [0, 0, 0, 0, 0, 0], vlan: 0, qos: 0, proto: 0x88a8,
                   spoofchk: 0, trust: 0, state: 2, minRate: 10, maxRate: 6000)
            vfInfo(list, vf: 2, mac: [0, 0, 0, 0, 0, 0], vlan: 0, qos: 0, proto: 0,
                   spoofchk: 0, trust: 0, state: 0, minRate: 0, maxRate: 0)
        }
        return b.bytes
    }

    @Test("a PF's VF list: MAC, VLAN and QoS, protocol, spoof check, trust, link state, rates")
    func pfWithVFs() throws {
        let (messages, malformed) = try Fixtures.decode([Self.pfLink()])
        #expect(malformed == 0)
        guard case .newLink(let link) = try #require(messages.first) else { Issue.record("no link"); return }
        #expect(link.vfs == [
            VFInfo(index: 0, mac: MACAddress("02:00:00:00:00:10")!, vlan: 10, qos: 3, spoofCheck: true, trust: true, linkState: .enable, maxTxRate: 10),
            VFInfo(index: 1, vlanProtocol: 0x88a8, linkState: .disable, minTxRate: 10, maxTxRate: 6000),
            VFInfo(index: 2),  // never given a VLAN: protocol 0 in the kernel, 802.1Q here
        ])
    }

    @Test("a link without a VF list has no VFs")
    func noVFs() throws {
        let (messages, _) = try Fixtures.decode([Fixtures.bridgeLink(index: 2, name: "br0", vlanProtocol: 0x8100, vlanFiltering: 0)])
        guard case .newLink(let link) = try #require(messages.first) else { Issue.record("no link"); return }
        #expect(link.vfs == nil)
    }

    @Test("a VF with a VLAN out of range or an unknown link state is malformed, not fatal")
    func outOfRange() throws {
        let b = NetlinkMessageBuilder(type: Fixtures.RTM_NEWLINK)
        b.append(header: Fixtures.ifinfomsg(index: 5))
        b.put(3, string: "eth0")
        b.nest(22) { list in
            Self.vfInfo(list, vf: 0, mac: [2, 0, 0, 0, 0, 1], vlan: 5000, qos: 0, proto: 0x8100,
                        spoofchk: 0, trust: 0, state: 0, minRate: 0, maxRate: 0)
        }
        let (messages, malformed) = try Fixtures.decode([b.bytes, Self.pfLink()])
        #expect(malformed == 1)
        #expect(messages.count == 1)
    }

    @Test("setVF writes one knob per request, as `ip link set PF vf N …` does; the decoder reads it back")
    func setVFRequest() throws {
        let vf = VFInfo(index: 2, mac: MACAddress("02:00:00:00:00:22")!, vlan: 100, qos: 5, vlanProtocol: 0x88a8,
                        spoofCheck: true, trust: true, linkState: .disable, minTxRate: 1, maxTxRate: 2)
        for knob in VFKnob.allCases {
            let bytes = KernelRequest.setVF(pf: 5, vf, knob).bytes
            #expect(bytes[4] == 19, "\(knob): RTM_SETLINK")             // nlmsg_type
            #expect(bytes.count > 16 + 16 + 8, "\(knob): has a VF info nest")
        }
        // The same records, turned into an RTM_NEWLINK, decode to the knobs' values.
        var message = KernelRequest.setVF(pf: 5, vf, .mac).bytes
        message[4] = UInt8(Fixtures.RTM_NEWLINK)
        let withName = NetlinkMessageBuilder(type: Fixtures.RTM_NEWLINK)
        withName.append(header: Fixtures.ifinfomsg(index: 5))
        withName.put(3, string: "eth0")
        withName.put(22, bytes: Array(message[(16 + 16 + 4)...]))  // the IFLA_VFINFO_LIST payload
        let (messages, malformed) = try Fixtures.decode([withName.bytes])
        #expect(malformed == 0)
        guard case .newLink(let link) = try #require(messages.first) else { Issue.record("no link"); return }
        #expect(link.vfs?.first?.index == 2)
        #expect(link.vfs?.first?.mac == MACAddress("02:00:00:00:00:22"))
    }
}

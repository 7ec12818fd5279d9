import Foundation
import Netlink
import SwitchModel
import Testing

/// Netconf and rule messages in the kernel's format: partial notifications, `all` /
/// `default`, attributes the model does not know, malformed lengths.
@Suite("Decoders: netconf and rules")
struct PolicyDecoderTests {
    static let RTM_NEWNETCONF: UInt16 = 80, RTM_DELNETCONF: UInt16 = 81, RTM_NEWRULE: UInt16 = 32
    static let NETCONFA_IFINDEX = 1, NETCONFA_FORWARDING = 2, NETCONFA_RP_FILTER = 3
    static let FRA_SRC = 2, FRA_PRIORITY = 6, FRA_TABLE = 15, FRA_PROTOCOL = 21

    static func netconf(type: UInt16 = RTM_NEWNETCONF, family: UInt8, ifindex: Int32, _ body: (NetlinkMessageBuilder) -> Void = { _ in }) -> [UInt8] {
        let b = NetlinkMessageBuilder(type: type).append(header: [family])
            .put(NETCONFA_IFINDEX, u32: UInt32(bitPattern: ifindex))
        body(b)
        return b.bytes
    }

    /// `struct fib_rule_hdr`: family, dst_len, src_len, tos, table, res1, res2, action, flags.
    static func rule(srcLength: UInt8 = 0, table: UInt8, _ body: (NetlinkMessageBuilder) -> Void) -> [UInt8] {
        let b = NetlinkMessageBuilder(type: RTM_NEWRULE).append(header: [2, 0, srcLength, 0, table, 0, 0, 1, 0, 0, 0, 0])
        body(b)
        return b.bytes
    }

    @Test("a dump entry, a one-attribute notification for all, default, and a deletion")
    func netconf() throws {
        let (messages, malformed) = try Fixtures.decode([
            Self.netconf(family: 2, ifindex: 7) { $0.put(Self.NETCONFA_FORWARDING, u32: 1).put(Self.NETCONFA_RP_FILTER, u32: 2) },
            Self.netconf(family: 2, ifindex: -1) { $0.put(Self.NETCONFA_FORWARDING, u32: 0) },
            Self.netconf(family: 10, ifindex: -2) { $0.put(Self.NETCONFA_FORWARDING, u32: 1) },
            Self.netconf(type: Self.RTM_DELNETCONF, family: 2, ifindex: 7),
            Self.netconf(family: 28, ifindex: 7) { $0.put(Self.NETCONFA_FORWARDING, u32: 1) },   // MPLS: skipped
            Self.netconf(family: 2, ifindex: -3),                                               // no such scope
        ])
        #expect(malformed == 1)
        #expect(messages == [
            .newNetConf(NetConf(key: .init(family: .ipv4, scope: .interface(7)), forwarding: true, rpFilter: 2)),
            .newNetConf(NetConf(key: .init(family: .ipv4, scope: .all), forwarding: false)),
            .newNetConf(NetConf(key: .init(family: .ipv6, scope: .default), forwarding: true)),
            .delNetConf(NetConf(key: .init(family: .ipv4, scope: .interface(7)))),
        ])
        // A notification with one attribute keeps what the dump said of the others.
        let dumped = NetConf(key: .init(family: .ipv4, scope: .interface(7)), forwarding: true, rpFilter: 2)
        #expect(dumped.merging(NetConf(key: dumped.key, forwarding: false)).rpFilter == 2)
    }

    @Test("rules: the default main rule, a source rule, an unknown selector is never default")
    func rules() throws {
        let (messages, malformed) = try Fixtures.decode([
            Self.rule(table: 254) { $0.put(Self.FRA_PRIORITY, u32: 32766).put(Self.FRA_TABLE, u32: 254).put(Self.FRA_PROTOCOL, u8: 2) },
            Self.rule(srcLength: 16, table: 100) {
                $0.put(Self.FRA_SRC, bytes: [10, 1, 0, 0]).put(Self.FRA_PRIORITY, u32: 100).put(Self.FRA_TABLE, u32: 100)
            },
            Self.rule(table: 254) { $0.put(Self.FRA_PRIORITY, u32: 32766).put(Self.FRA_TABLE, u32: 254).put(29, u8: 8) },
            Self.rule(srcLength: 16, table: 100) { $0.put(Self.FRA_PRIORITY, u32: 100) },   // FRA_SRC missing
        ])
        #expect(malformed == 1)
        let rules = messages.compactMap { if case .newRule(let r) = $0 { r } else { nil } }
        #expect(rules.count == 3)
        #expect(rules[0].isDefault && rules[0].isMainRule && rules[0].description == "ip rule 32766: from all lookup main")
        #expect(!rules[1].isDefault && rules[1].description == "ip rule 100: from 10.1.0.0/16 lookup 100")
        #expect(!rules[2].isDefault && rules[2].otherAttributes == [29], "\(rules[2])")
    }
}

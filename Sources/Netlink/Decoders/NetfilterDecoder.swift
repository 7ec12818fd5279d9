internal import CNetlink
import SwitchModel

/// Decodes nftables messages: `struct nfgenmsg` (family, version, resource id) after the
/// `nlmsghdr`, then `NFTA_*` attributes, whose integers are in network byte order.
enum NetfilterDecoder {
    /// A chain's identity, as rules name it.
    struct ChainKey: Hashable {
        var family: NetfilterChain.Family
        var table: String
        var chain: String
    }

    static func attr<T: RawRepresentable>(_ a: T) -> Int where T.RawValue == UInt32 { Int(a.rawValue) }

    static func parse(_ message: NetlinkMessageView, maxType: Int32) throws -> (NetfilterChain.Family, NetlinkAttributes) {
        guard message.payloadLength >= 4 else {
            throw NetlinkDecodeError("nftables message type \(message.type) too short for its nfgenmsg (\(message.payloadLength) bytes)")
        }
        let family = NetfilterChain.Family(rawValue: message.payload.load(as: UInt8.self))
        return (family, try message.attributes(familyHeaderSize: 4, maxType: maxType))
    }

    /// A `NFT_MSG_NEWCHAIN` (`nft list chains`). `rules` is left 0: rules come separately.
    static func chain(_ message: NetlinkMessageView) throws -> NetfilterChain {
        let (family, a) = try parse(message, maxType: CNL_NFTA_CHAIN_MAX)
        guard let table = a.string(attr(NFTA_CHAIN_TABLE)), let name = a.string(attr(NFTA_CHAIN_NAME)) else {
            throw NetlinkDecodeError("nftables chain without NFTA_CHAIN_TABLE/NAME")
        }
        var chain = NetfilterChain(family: family, table: table, name: name)
        if let hook = try a.nested(attr(NFTA_CHAIN_HOOK), maxType: CNL_NFTA_HOOK_MAX) {
            chain.hook = try hook.u32(attr(NFTA_HOOK_HOOKNUM)).map { UInt32(bigEndian: $0) }
            chain.priority = Int32(bitPattern: UInt32(bigEndian: try hook.u32(attr(NFTA_HOOK_PRIORITY)) ?? 0))
            // Kernels send the devices in NFTA_HOOK_DEVS, and a single one also in NFTA_HOOK_DEV.
            var devices = hook.string(attr(NFTA_HOOK_DEV)).map { [$0] } ?? []
            try hook.attribute(attr(NFTA_HOOK_DEVS))?.forEachNested { devices.append($0.string()) }
            for d in devices where !chain.devices.contains(d) { chain.devices.append(d) }
        }
        if let policy = try a.u32(attr(NFTA_CHAIN_POLICY)) {
            chain.dropsByPolicy = UInt32(bigEndian: policy) == UInt32(NF_DROP)
        }
        return chain
    }

    /// The chain a `NFT_MSG_NEWRULE` belongs to.
    static func ruleChain(_ message: NetlinkMessageView) throws -> ChainKey {
        let (family, a) = try parse(message, maxType: CNL_NFTA_RULE_MAX)
        guard let table = a.string(attr(NFTA_RULE_TABLE)), let chain = a.string(attr(NFTA_RULE_CHAIN)) else {
            throw NetlinkDecodeError("nftables rule without NFTA_RULE_TABLE/CHAIN")
        }
        return ChainKey(family: family, table: table, chain: chain)
    }
}

internal import CNetlink
#if canImport(Glibc)
import Glibc
#endif
import SwitchModel

/// nftables over nfnetlink (`NETLINK_NETFILTER`, subsystem `NFNL_SUBSYS_NFTABLES`): the
/// chains of every family with their hooks and rule counts, and a notification socket
/// joined to `NFNLGRP_NFTABLES` that says when the ruleset changed.
///
/// ```
///   NetfilterWatcher ──state()──► NetfilterChannel ──NFT_MSG_GETCHAIN dump, NFT_MSG_GETRULE dump──► kernel
///                    ◄─changed()─┘ (any NFT_MSG_* on NFNLGRP_NFTABLES, or ENOBUFS)
/// ```
///
/// Only what offload decisions need is decoded (`nft list chains`, and rules counted per
/// chain); expressions are not. One channel is used from one thread at a time.
public final class NetfilterChannel {
    let requests: NetlinkChannel
    let events: NetlinkTransport?
    /// The namespace the sockets live in, for the br_netfilter sysctls.
    public let namespace: String?

    /// Channels over any transports (``ScriptedNetlinkTransport`` in tests); `events` nil:
    /// no notifications.
    public init(requests: NetlinkTransport, events: NetlinkTransport?, namespace: String? = nil) {
        self.requests = NetlinkChannel(transport: requests)
        self.events = events
        self.namespace = namespace
    }

    /// Opens two `NETLINK_NETFILTER` sockets in `namespace` (a name under `/var/run/netns`):
    /// one for dumps, one joined to `NFNLGRP_NFTABLES`.
    /// - Throws: ``NetlinkError`` when the kernel has no nfnetlink.
    public convenience init(namespace: String? = nil) throws {
        let requests = try RouteNetlinkSocket(netlinkProtocol: NETLINK_NETFILTER, namespace: namespace, groups: [],
                                              receiveBufferBytes: 4 << 20)
        let events = try RouteNetlinkSocket(netlinkProtocol: NETLINK_NETFILTER, namespace: namespace,
                                            groups: [RouteNetlinkGroup(rawValue: UInt32(CNL_NFNLGRP_NFTABLES))],
                                            receiveBufferBytes: 4 << 20)
        self.init(requests: requests, events: events, namespace: namespace)
    }

    /// Every chain of every table with its rule count.
    /// - Throws: ``NetlinkError``; `EINTR` for a dump the kernel marked interrupted (the
    ///   ruleset changed meanwhile: dump again).
    public func chains() throws -> [NetfilterChain] {
        var chains: [NetfilterChain] = []
        try requests.dumpMessages(Self.message(NFT_MSG_GETCHAIN), operation: "nftables chain dump") { reply in
            guard reply.type == Self.type(NFT_MSG_NEWCHAIN) else { return }
            chains.append(try NetfilterDecoder.chain(reply))
        }
        var rules: [NetfilterDecoder.ChainKey: Int] = [:]
        try requests.dumpMessages(Self.message(NFT_MSG_GETRULE), operation: "nftables rule dump") { reply in
            guard reply.type == Self.type(NFT_MSG_NEWRULE) else { return }
            rules[try NetfilterDecoder.ruleChain(reply), default: 0] += 1
        }
        for i in chains.indices {
            chains[i].rules = rules[.init(family: chains[i].family, table: chains[i].table, chain: chains[i].name)] ?? 0
        }
        return chains
    }

    /// Reads what the notification socket holds, without waiting longer than
    /// `timeoutMilliseconds` for the first datagram.
    /// - Returns: true when the ruleset may have changed: a notification arrived, or some
    ///   were lost (`ENOBUFS`).
    public func changed(timeoutMilliseconds: Int32) -> Bool {
        guard let events else { return false }
        var any = false
        var wait = timeoutMilliseconds
        while true {
            do {
                guard try events.receive(timeoutMilliseconds: wait, { _ in }) else { return any }
            } catch {
                return true
            }
            any = true
            wait = 0
        }
    }

    /// br_netfilter's switches in the channel's namespace (all false when the module is
    /// not loaded, so the files do not exist).
    public func bridgeNetfilterSysctls() -> (iptables: Bool, ip6tables: Bool, arptables: Bool) {
        func read(_ name: String) -> Bool {
            let value: String? = try? RouteNetlinkSocket.inNamespace(namespace) {
                let fd = open("/proc/sys/net/bridge/bridge-nf-call-\(name)", O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { return nil }
                defer { close(fd) }
                var buffer = [UInt8](repeating: 0, count: 16)
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
            }
            return value?.first == "1"
        }
        return (read("iptables"), read("ip6tables"), read("arptables"))
    }

    static func type(_ command: nf_tables_msg_types) -> UInt16 {
        UInt16(NFNL_SUBSYS_NFTABLES << 8) | UInt16(command.rawValue)
    }

    /// A request of every family (`NFPROTO_UNSPEC`), `nfgenmsg` version `NFNETLINK_V0`.
    static func message(_ command: nf_tables_msg_types) -> NetlinkMessageBuilder {
        NetlinkMessageBuilder(type: type(command)).append(header: [UInt8(NFPROTO_UNSPEC), UInt8(NFNETLINK_V0), 0, 0])
    }
}

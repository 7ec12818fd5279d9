/// An nftables chain, as far as forwarding offload cares: where it hooks and whether it can
/// do anything there.
///
/// The kernel counterpart is `NFT_MSG_NEWCHAIN` (`NFTA_CHAIN_TABLE`, `_NAME`, `_HOOK` with
/// `NFTA_HOOK_HOOKNUM`, `_PRIORITY`, `_DEV`/`_DEVS`, `NFTA_CHAIN_POLICY`, `_TYPE`) in the
/// `nfgen_family` of its table, plus the number of rules in it (`NFT_MSG_NEWRULE` naming
/// the table and chain). `iptables-nft`, Debian's default `iptables`, makes the same chains.
public struct NetfilterChain: Hashable, Sendable, CustomStringConvertible {
    /// The table's family (`NFPROTO_*`).
    public struct Family: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// `NFPROTO_INET`: IPv4 and IPv6.
        public static let inet = Family(rawValue: 1)
        /// `NFPROTO_IPV4`.
        public static let ip = Family(rawValue: 2)
        /// `NFPROTO_ARP`.
        public static let arp = Family(rawValue: 3)
        /// `NFPROTO_NETDEV`: per-device ingress/egress hooks.
        public static let netdev = Family(rawValue: 5)
        /// `NFPROTO_BRIDGE`: bridged frames.
        public static let bridge = Family(rawValue: 7)
        /// `NFPROTO_IPV6`.
        public static let ip6 = Family(rawValue: 10)

        /// As `nft list ruleset` names it.
        public var description: String {
            switch self {
            case .inet: "inet"
            case .ip: "ip"
            case .arp: "arp"
            case .netdev: "netdev"
            case .bridge: "bridge"
            case .ip6: "ip6"
            default: "family \(rawValue)"
            }
        }
    }

    public var family: Family
    public var table: String
    public var name: String
    /// `NFTA_HOOK_HOOKNUM`: `NF_INET_*` (0 prerouting … 4 postrouting, 5 ingress) for
    /// inet/ip/ip6/bridge, `NF_ARP_*` for arp, `NF_NETDEV_INGRESS`/`_EGRESS` for netdev.
    /// Nil for a regular chain, which runs only when a rule jumps to it.
    public var hook: UInt32?
    public var priority: Int32
    /// The devices of a netdev (or inet ingress) chain.
    public var devices: [String]
    /// `NFTA_CHAIN_POLICY` is `NF_DROP`.
    public var dropsByPolicy: Bool
    /// Rules in the chain.
    public var rules: Int

    public init(family: Family, table: String, name: String, hook: UInt32? = nil, priority: Int32 = 0,
                devices: [String] = [], dropsByPolicy: Bool = false, rules: Int = 0) {
        self.family = family
        self.table = table
        self.name = name
        self.hook = hook
        self.priority = priority
        self.devices = devices
        self.dropsByPolicy = dropsByPolicy
        self.rules = rules
    }

    /// A base chain that can change what happens to a packet: it has rules, or it drops by
    /// policy. A base chain with neither accepts everything and is no reason to trap.
    public var isActive: Bool { hook != nil && (rules > 0 || dropsByPolicy) }

    /// The hook as `nft` names it.
    public var hookName: String {
        guard let hook else { return "none" }
        switch family {
        case .netdev: return hook == 0 ? "ingress" : hook == 1 ? "egress" : "hook \(hook)"
        case .arp: return ["input", "output", "forward"].indices.contains(Int(hook)) ? ["input", "output", "forward"][Int(hook)] : "hook \(hook)"
        default:
            let names = ["prerouting", "input", "forward", "output", "postrouting", "ingress"]
            return names.indices.contains(Int(hook)) ? names[Int(hook)] : "hook \(hook)"
        }
    }

    /// How reasons name the chain: `nftables inet filter chain fwd (hook forward, 2 rules)`.
    public var description: String {
        let what = rules > 0 ? "\(rules) rule\(rules == 1 ? "" : "s")" : "policy drop"
        let on = devices.isEmpty ? "" : " on \(devices.joined(separator: ","))"
        return "nftables \(family) \(table) chain \(name) (hook \(hookName)\(on), \(what))"
    }
}

/// The netfilter configuration of a namespace that can touch forwarded traffic: the
/// nftables base chains and br_netfilter's `bridge-nf-call-*` switches.
///
/// The kernel counterparts are the nftables chains (nfnetlink, `NFNL_SUBSYS_NFTABLES`) and
/// `/proc/sys/net/bridge/bridge-nf-call-{iptables,ip6tables,arptables}` (present only
/// while `br_netfilter` is loaded; per namespace).
///
/// What the chip forwards bypasses netfilter, so traffic an active chain can see must
/// stay on the CPU: the queries below name the chain that forces it.
public struct NetfilterState: Hashable, Sendable {
    public var chains: [NetfilterChain]
    /// `bridge-nf-call-iptables`: bridged IPv4 traverses the ip/inet hooks.
    public var bridgeCallsIPTables: Bool
    /// `bridge-nf-call-ip6tables`: bridged IPv6 traverses the ip6/inet hooks.
    public var bridgeCallsIP6Tables: Bool
    /// `bridge-nf-call-arptables`: bridged ARP traverses the arp hooks.
    public var bridgeCallsARPTables: Bool

    public init(chains: [NetfilterChain] = [], bridgeCallsIPTables: Bool = false, bridgeCallsIP6Tables: Bool = false,
                bridgeCallsARPTables: Bool = false) {
        self.chains = chains
        self.bridgeCallsIPTables = bridgeCallsIPTables
        self.bridgeCallsIP6Tables = bridgeCallsIP6Tables
        self.bridgeCallsARPTables = bridgeCallsARPTables
    }

    /// `NF_INET_PRE_ROUTING`, `NF_INET_FORWARD`, `NF_INET_POST_ROUTING`: the hooks a forwarded
    /// packet passes (input and output see only the host's own traffic, which the chip traps anyway).
    static let forwardingHooks: Set<UInt32> = [0, 2, 4]

    /// The first active chain that sees frames a bridge forwards: a bridge-family chain on a
    /// forwarding hook, or — through br_netfilter — an ip/ip6/inet/arp one.
    public var bridgedTrap: NetfilterChain? {
        active.first { c in
            guard let hook = c.hook else { return false }
            switch c.family {
            case .bridge: return Self.forwardingHooks.contains(hook)
            case .ip: return bridgeCallsIPTables && Self.forwardingHooks.contains(hook)
            case .ip6: return bridgeCallsIP6Tables && Self.forwardingHooks.contains(hook)
            case .inet: return (bridgeCallsIPTables || bridgeCallsIP6Tables) && Self.forwardingHooks.contains(hook)
            case .arp: return bridgeCallsARPTables && hook == 2
            default: return false
            }
        }
    }

    /// The first active chain that sees packets routed in one family (ip or inet for IPv4,
    /// ip6 or inet for IPv6) on a forwarding hook.
    public func routedTrap(ipv4: Bool) -> NetfilterChain? {
        active.first { c in
            guard let hook = c.hook, Self.forwardingHooks.contains(hook) else { return false }
            return c.family == .inet || c.family == (ipv4 ? .ip : .ip6)
        }
    }

    /// The first active chain on a device's ingress (netdev ingress, inet ingress) or egress
    /// (netdev egress) hook.
    public func deviceTrap(_ device: String, ingress: Bool) -> NetfilterChain? {
        active.first { c in
            guard c.devices.contains(device), let hook = c.hook else { return false }
            switch c.family {
            case .netdev: return hook == (ingress ? 0 : 1)
            case .inet: return ingress && hook == 5
            default: return false
            }
        }
    }

    private var active: [NetfilterChain] { chains.filter(\.isActive) }
}

#if canImport(Glibc)
import Glibc
#endif
import Netlink
import SwitchModel

/// Keeps the namespace's ``NetfilterState`` current: the nftables chains, re-read whenever
/// the kernel announces a ruleset change on `NFNLGRP_NFTABLES` (or notifications were
/// lost), and br_netfilter's `bridge-nf-call-*` switches, which announce nothing and are
/// re-read every ``sysctlIntervalNanoseconds``.
///
/// A dump that fails keeps the last state and is retried on the next poll; the failure is
/// counted, never fatal. Not thread-safe: one thread polls.
public final class NetfilterWatcher {
    public struct Statistics: Sendable, Equatable {
        /// Complete re-reads of the ruleset.
        public var reloads = 0
        /// Re-reads that failed (kept the previous state, retried).
        public var failures = 0
        public init() {}
    }

    public private(set) var state = NetfilterState()
    public private(set) var statistics = Statistics()
    /// The error of the latest failed re-read, for logging.
    public private(set) var lastError: Error?
    public var sysctlIntervalNanoseconds: UInt64 = 1_000_000_000
    private let channel: NetfilterChannel
    private var dirty = true
    private var sysctlsReadAt: UInt64 = 0

    public init(channel: NetfilterChannel) {
        self.channel = channel
    }

    /// Watches the netfilter configuration of a namespace (nil: the caller's own).
    public convenience init(namespace: String? = nil) throws {
        self.init(channel: try NetfilterChannel(namespace: namespace))
    }

    /// Reads the state now (the initial state, before the first ``poll()``).
    /// - Returns: the change from the empty state, if any.
    @discardableResult
    public func start() -> Change<NetfilterState>? {
        poll()
    }

    /// Reads what changed since the last call, without blocking on the kernel beyond the
    /// dumps themselves.
    /// - Returns: the change, when the state is different now.
    @discardableResult
    public func poll() -> Change<NetfilterState>? {
        if channel.changed(timeoutMilliseconds: 0) { dirty = true }
        var next = state
        let now = KernelMirror.now()
        if now &- sysctlsReadAt >= sysctlIntervalNanoseconds || dirty {
            sysctlsReadAt = now
            let s = channel.bridgeNetfilterSysctls()
            (next.bridgeCallsIPTables, next.bridgeCallsIP6Tables, next.bridgeCallsARPTables) = (s.iptables, s.ip6tables, s.arptables)
        }
        if dirty {
            do {
                next.chains = try reload()
                dirty = false
                statistics.reloads += 1
            } catch {
                statistics.failures += 1
                lastError = error
            }
        }
        guard next != state else { return nil }
        let old = state
        state = next
        return .changed(old: old, new: next)
    }

    /// The chains, dumped again while the kernel reports the dump interrupted (at most 5 times).
    private func reload() throws -> [NetfilterChain] {
        var attempt = 1
        while true {
            do {
                return try channel.chains()
            } catch let error as NetlinkError where error.code == EINTR && attempt < 5 {
                attempt += 1
            }
        }
    }
}

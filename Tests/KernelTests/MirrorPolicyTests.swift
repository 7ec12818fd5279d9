import Foundation
import KernelMirror
import SwitchModel
import Testing

/// Netconf (forwarding sysctls) and policy rules reach the mirror as the kernel holds
/// them: the initial dump equals `ip -j netconf` / `ip -j rule`, sysctl writes arrive as
/// (partial) notifications merged into the entry, rules come and go, duplicates count.
@Suite("Mirror against the real kernel: netconf and rules", needsRoot, .serialized)
struct MirrorPolicyTests {
    let ns: TestNamespace
    let mirror: KernelMirror

    init() throws {
        ns = try TestNamespace("pol")
        try ns.ip("link add swp1 type veth peer name h1")
        try ns.exec(["sysctl", "-q", "-w", "net.ipv4.conf.swp1.forwarding=1"])
        try ns.ip("rule add from 10.1.0.0/16 lookup 100 pref 100")
        mirror = try KernelMirror(namespace: ns.name)
        try mirror.start()
    }

    func forwarding(_ family: AddressFamily, _ scope: NetConfScope) -> Bool? {
        mirror.tables.netconf[NetConf.Key(family: family, scope: scope)]?.forwarding
    }

    @Test("the dump holds every netconf entry and rule ip -j lists")
    func dump() throws {
        for family in ["-4", "-6"] {
            for entry in try ns.ipJSON("\(family) netconf show") {
                let name = try #require(entry["interface"] as? String)
                let scope: NetConfScope = switch name {
                case "all": .all
                case "default": .default
                default: .interface(try #require(mirror.tables.link(named: name)).index)
                }
                let key = NetConf.Key(family: family == "-4" ? .ipv4 : .ipv6, scope: scope)
                let c = try #require(mirror.tables.netconf[key], "\(family) \(name) missing")
                #expect(c.forwarding == entry["forwarding"] as? Bool, "\(family) \(name)")
                #expect(c.proxyNeighbor == entry["proxy_neigh"] as? Bool, "\(family) \(name)")
            }
            let kernel = try ns.ipJSON("\(family) rule show")
            let mirrored = mirror.tables.rules.keys.filter { $0.family == (family == "-4" ? .ipv4 : .ipv6) }
            #expect(kernel.count == mirrored.count, "\(kernel) vs \(mirrored)")
            for entry in kernel {
                let prio = try #require(entry["priority"] as? Int)
                let rule = try #require(mirrored.first { Int($0.priority) == prio }, "rule \(prio) missing")
                #expect(rule.table.description == entry["table"] as? String)
                #expect((rule.source?.description ?? "all") == (entry["src"] as? String).map { $0 == "all" ? "all" : $0 + "/" + String(entry["srclen"] as? Int ?? 0) })
                #expect(rule.isDefault == (prio != 100), "\(rule)")
            }
        }
        #expect(forwarding(.ipv4, .interface(try #require(mirror.tables.link(named: "swp1")).index)) == true)
        #expect(forwarding(.ipv4, .all) == false)
    }

    @Test("ip_forward and per-device forwarding writes arrive; a notification carrying one attribute keeps the others")
    func sysctlChanges() throws {
        let swp1 = try #require(mirror.tables.link(named: "swp1")).index
        let rpBefore = mirror.tables.netconf[NetConf.Key(family: .ipv4, scope: .interface(swp1))]?.rpFilter
        #expect(rpBefore != nil)
        try ns.exec(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        // ip_forward copies itself to every device (inet_forward_change), each announced.
        #expect(try mirror.pump { _ in forwarding(.ipv4, .all) == true && forwarding(.ipv4, .interface(swp1)) == true }.held)
        try ns.exec(["sysctl", "-q", "-w", "net.ipv4.conf.swp1.forwarding=0"])
        #expect(try mirror.pump { _ in forwarding(.ipv4, .interface(swp1)) == false }.held)
        #expect(forwarding(.ipv4, .all) == true)
        #expect(mirror.tables.netconf[NetConf.Key(family: .ipv4, scope: .interface(swp1))]?.rpFilter == rpBefore)
        try ns.exec(["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"])
        #expect(try mirror.pump { _ in forwarding(.ipv6, .all) == true }.held)
        // A fresh dump agrees with what the notifications built.
        let fresh = try KernelMirror(namespace: ns.name)
        try fresh.start()
        #expect(fresh.tables.netconf == mirror.tables.netconf)
        try ns.ip("link del swp1")
        #expect(try mirror.pump { $0.netconf.keys.allSatisfy { $0.scope != .interface(swp1) } }.held)
    }

    @Test("rules added and deleted arrive; identical copies are counted and the last delete removes the rule")
    func ruleChanges() throws {
        try ns.ip("rule add iif swp1 lookup 200 pref 200")
        let isNew = { (r: RoutingRule) in r.priority == 200 && r.inputInterface == "swp1" && r.table == 200 }
        #expect(try mirror.pump { $0.rules.keys.contains(where: isNew) }.held)
        let rule = try #require(mirror.tables.rules.keys.first(where: isNew))
        #expect(rule.description == "ip rule 200: from all iif swp1 lookup 200")
        // A second identical copy: the kernel refuses it only for a request with
        // NLM_F_EXCL (which `ip rule add` may send); when it exists, it is counted.
        let duplicate = (try? ns.ip("rule add iif swp1 lookup 200 pref 200")) != nil
        _ = try mirror.settle()
        #expect(mirror.tables.rules[rule] == (duplicate ? 2 : 1))
        try ns.ip("rule del pref 200")
        _ = try mirror.settle()
        #expect((mirror.tables.rules[rule] != nil) == duplicate)
        if duplicate { try ns.ip("rule del pref 200") }
        #expect(try mirror.pump { $0.rules[rule] == nil }.held)
    }
}

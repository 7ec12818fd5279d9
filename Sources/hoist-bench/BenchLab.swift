import Foundation
import Lab
import Netlink

/// One emulated switch run as `hoist lab up` runs it — `hoist-asic` and `hoistd --asic` as
/// processes of their own, from the release build beside `hoist-bench` — with two routed
/// ports: swp1 10.1.0.1/24 to host h1 (10.1.0.2) and swp2 10.2.0.1/24 to h2 (10.2.0.2),
/// both neighbours resolved. `down()` removes everything.
struct BenchLab {
    let plan: LabPlan
    let binaries: URL
    var namespace: String { plan.switchNamespace("sw") }
    var socket: String { plan.socket("sw") }

    static let labText = """
        switch sw ports 2 profile datacenter
        host h1 sw:1 10.1.0.2/24 gw 10.1.0.1
        host h2 sw:2 10.2.0.2/24 gw 10.2.0.1
        start
        exec sw sysctl -q -w net.ipv4.ip_forward=1
        exec sw ip addr add 10.1.0.1/24 dev swp1
        exec sw ip addr add 10.2.0.1/24 dev swp2
        exec sw ip link set swp1 up
        exec sw ip link set swp2 up
        exec h1 ping -c 1 -W 2 10.1.0.1
        exec h2 ping -c 1 -W 2 10.2.0.1
        """

    init(name: String) throws {
        binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for tool in ["hoist", "hoistd", "hoist-asic"] where !FileManager.default.isExecutableFile(atPath: binaries.appendingPathComponent(tool).path) {
            throw BenchError(message: "\(tool) is not built beside hoist-bench in \(binaries.path) (scripts/bench builds it)")
        }
        plan = try LabPlan(name: name, spec: try LabFile.parse(Self.labText))
        let file = "/tmp/\(name).lab"
        try Self.labText.write(toFile: file, atomically: false, encoding: .utf8)
        defer { unlink(file) }
        try? shell([binaries.appendingPathComponent("hoist").path, "lab", "down", name])
        try shell([binaries.appendingPathComponent("hoist").path, "lab", "up", name, "--file", file], quiet: true)
    }

    func down() { try? shell([binaries.appendingPathComponent("hoist").path, "lab", "down", name], quiet: true) }
    var name: String { plan.name }

    /// The running hoistd of the switch (the process whose arguments name its socket).
    func hoistdPID() -> pid_t? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for e in entries {
            guard let pid = pid_t(e), let raw = FileManager.default.contents(atPath: "/proc/\(e)/cmdline") else { continue }
            let argv = raw.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if argv.first?.hasSuffix("hoistd") == true, argv.contains(socket) { return pid }
        }
        return nil
    }

    /// A process's resident set (`VmRSS`), in bytes.
    static func resident(_ pid: pid_t) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb * 1024
    }

    /// How many IPv4 routes the chip holds, as hoistd reports it (`hoist show resources`).
    func chipRoutes() throws -> Int {
        let out = try capture([binaries.appendingPathComponent("hoist").path, "show", "resources", "--json", "--socket", socket])
        guard let rows = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]] else { return 0 }
        return rows.first { $0["table"] as? String == "lpm_ipv4" }?["used"] as? Int ?? 0
    }

    /// Waits until the chip holds at least (`atLeast`) or at most (`!atLeast`) `count` IPv4 routes.
    func waitForChip(_ count: Int, atLeast: Bool = true, timeout: Double = 900) throws -> Double {
        let start = now()
        while now() - start < timeout {
            let n = (try? chipRoutes()) ?? -1
            if n >= 0, atLeast ? n >= count : n <= count { return now() - start }
            usleep(100_000)
        }
        throw BenchError(message: "the chip never held \(atLeast ? "≥" : "≤") \(count) IPv4 routes")
    }

    /// FRR's way of installing routes: nexthop objects 1 (via h1), 2 (via h2), group 3 of
    /// both, then `routes` /24s as `proto bgp` — three in four over the ECMP group, one in
    /// four over nexthop 1 — sent 256 per `send()` without ACKs.
    func insertFRRStyle(_ routes: Int) throws {
        let channel = try NetlinkChannel(namespace: namespace)
        func nexthop(_ id: UInt32, gateway: [UInt8], ifname: String) throws -> NetlinkMessageBuilder {
            let m = NetlinkMessageBuilder(type: 104 /* RTM_NEWNEXTHOP */, flags: 0x400 | 0x200, capacity: 64)
            // struct nhmsg: AF_INET, scope 0, protocol bgp (186), resvd, flags 0.
            m.append(header: [2, 0, 186, 0, 0, 0, 0, 0])
            m.put(1 /* NHA_ID */, u32: id)
            m.put(5 /* NHA_OIF */, u32: if_nametoindexIn(namespace, ifname))
            m.put(6 /* NHA_GATEWAY */, bytes: gateway)
            return m
        }
        try channel.request(try nexthop(1, gateway: [10, 1, 0, 2], ifname: "swp1"))
        try channel.request(try nexthop(2, gateway: [10, 2, 0, 2], ifname: "swp2"))
        let group = NetlinkMessageBuilder(type: 104, flags: 0x400 | 0x200, capacity: 64)
        group.append(header: [0, 0, 186, 0, 0, 0, 0, 0])
        group.put(1, u32: 3)
        // NHA_GROUP: struct nexthop_grp { u32 id; u8 weight; u8 resvd1; u16 resvd2 } × 2.
        group.put(2, bytes: [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0])
        try channel.request(group)
        var batch: [NetlinkMessageBuilder] = []
        batch.reserveCapacity(256)
        for i in 0..<routes {
            let d = MirrorRoutes.destination(i)
            let m = NetlinkMessageBuilder(type: 24 /* RTM_NEWROUTE */, flags: 0x400 | 0x200, capacity: 64)
            // struct rtmsg: AF_INET, /24, table main, protocol bgp, scope universe, unicast.
            m.append(header: [2, 24, 0, 0, 254, 186, 0, 1, 0, 0, 0, 0])
            m.put(1 /* RTA_DST */, bytes: [UInt8(d >> 24), UInt8((d >> 16) & 255), UInt8((d >> 8) & 255), 0])
            m.put(30 /* RTA_NH_ID */, u32: i % 4 == 0 ? 1 : 3)
            batch.append(m)
            if batch.count == 256 || i == routes - 1 {
                try channel.sendBatch(batch)
                batch.removeAll(keepingCapacity: true)
                if let e = try channel.drainErrors().first { throw e }
            }
        }
        if let e = try channel.drainErrors().first { throw e }
    }

    /// Removes the nexthop objects, and with them every route over them (as zebra's
    /// shutdown does).
    func withdrawFRRStyle() throws {
        try shell(["ip", "-n", namespace, "nexthop", "flush"])
    }
}

/// The ifindex of `ifname` in namespace `ns`.
func if_nametoindexIn(_ ns: String, _ ifname: String) -> UInt32 {
    let text = (try? capture(["ip", "-n", ns, "-o", "link", "show", "dev", ifname])) ?? ""
    return UInt32(text.split(separator: ":").first?.trimmingCharacters(in: .whitespaces) ?? "") ?? 0
}

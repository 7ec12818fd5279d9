import Foundation
import Testing

/// hoistd's Prometheus endpoint (`--metrics`), scraped as Prometheus does: the counters
/// move with traffic through the chip, the offload states and tables are there, a client
/// that never sends its request holds nothing up.
@Suite("hoistd metrics", needsRoot, .serialized)
struct MetricsTests {
    /// One GET over TCP: the status line and the body.
    static func get(_ port: UInt16, _ path: String) throws -> (status: String, body: String) {
        let script = """
            import socket, sys
            s = socket.create_connection(("127.0.0.1", \(port)), timeout=5)
            s.sendall(b"GET \(path) HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk: break
                data += chunk
            sys.stdout.write(data.decode())
            """
        let r = try HoistdCLITests.run("/usr/bin/env", ["python3", "-c", script])
        guard let split = r.output.range(of: "\r\n\r\n") else { return (r.output + r.error, "") }
        return (String(r.output[..<split.lowerBound]).components(separatedBy: "\r\n").first ?? "", String(r.output[split.upperBound...]))
    }

    /// The value of one sample (`name{labels}` exactly as exposed), or nil.
    static func value(_ body: String, _ sample: String) -> Double? {
        body.split(separator: "\n").first { $0.hasPrefix(sample + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test("scraped: port counters move with pings, traps by reason, objects by kind and state, table occupancy, offload latency; 404 elsewhere; a silent client blocks nothing; a bad address is refused")
    func scrape() throws {
        guard HoistLabTests.built() else { return }
        let wires = try TestNamespace("mw")
        let sw = try TestNamespace("ms")
        let host = try TestNamespace("mh")
        try wires.ip("link add fp1 type veth peer name eth0 netns \(host.name)")
        try wires.ip("link set fp1 up")
        try host.ip("link set eth0 up")
        try host.ip("addr add 10.5.0.2/24 dev eth0")
        let port = UInt16(20_000 + getpid() % 20_000)
        let daemon = Process()
        daemon.executableURL = HoistdCLITests.binaries.appendingPathComponent("hoistd")
        daemon.arguments = ["-n", sw.name, "--wire-netns", wires.name, "--port", "1=fp1", "--socket", "/tmp/hoist-test-metrics-\(getpid()).sock",
                            "--metrics", "127.0.0.1:\(port)"]
        daemon.standardError = FileHandle.nullDevice
        try daemon.run()
        defer { if daemon.isRunning { daemon.terminate(); daemon.waitUntilExit() } }
        var first = (status: "", body: "")
        for _ in 0..<200 {
            first = (try? Self.get(port, "/metrics")) ?? first
            if first.status.hasSuffix("200 OK") { break }
            usleep(25_000)
        }
        #expect(first.status == "HTTP/1.1 200 OK", "\(first)")
        try sw.ip("link set swp1 up")
        try sw.ip("addr add 10.5.0.1/24 dev swp1")

        // A client that connects and never asks: the next scrape is answered all the same.
        let silent = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(silent, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(connected == 0)
        defer { close(silent) }

        var before = ""
        for _ in 0..<100 {
            before = try Self.get(port, "/metrics").body
            if Self.value(before, "hoist_objects{kind=\"rifs\",state=\"trapped\"}") == 1 { break }
            usleep(20_000)
        }
        let rxBefore = Self.value(before, "hoist_port_rx_packets_total{port=\"swp1\"}") ?? -1
        #expect(rxBefore >= 0, "\(before)")
        let ping = try HoistdCLITests.run("/usr/sbin/ip", ["netns", "exec", host.name, "ping", "-c", "5", "-i", "0.2", "-W", "2", "10.5.0.1"])
        #expect(ping.status == 0, "\(ping.output)")
        let after = try Self.get(port, "/metrics").body
        let rxAfter = Self.value(after, "hoist_port_rx_packets_total{port=\"swp1\"}") ?? -1
        #expect(rxAfter >= rxBefore + 5, "rx_packets \(rxBefore) → \(rxAfter)")
        // The pings to swp1's own address are the kernel's: trapped by the chip, counted by reason.
        let trapped = after.split(separator: "\n").filter { $0.hasPrefix("hoist_traps_total{") }.compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0, +)
        #expect(trapped >= 5, "\(after)")
        #expect(Self.value(after, "hoist_objects{kind=\"ports\",state=\"offloaded\"}") == 1, "\(after)")
        #expect((Self.value(after, "hoist_table_entries{table=\"lpm_ipv4\"}") ?? 0) >= 1 && (Self.value(after, "hoist_table_capacity{table=\"lpm_ipv4\"}") ?? 0) > 0)
        #expect((Self.value(after, "hoist_offload_latency_seconds_count") ?? 0) >= 1, "\(after)")
        #expect(after.contains("# TYPE hoist_port_rx_packets_total counter") && after.contains("# TYPE hoist_objects gauge"))
        // Only the ports that exist: the embedded chip has more than swp1.
        #expect(!after.contains("port=\"swp2\""), "\(after)")

        let elsewhere = try Self.get(port, "/")
        #expect(elsewhere.status == "HTTP/1.1 404 Not Found", "\(elsewhere)")
        #expect(daemon.isRunning)

        let bad = try HoistdCLITests.run("hoistd", ["-n", sw.name, "--port", "1=fp1", "--metrics", "nowhere:99"])
        #expect(bad.status == 64 && bad.error.contains("metrics address 'nowhere:99'"), "\(bad.status) \(bad.error)")
    }
}

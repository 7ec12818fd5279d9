import Foundation
import Testing

/// Debian's FRR (`zebra` and `bgpd`) run inside one test namespace, as a real peer: its own
/// configuration, pid files, zserv and vty sockets and logs in a directory of its own
/// (never the system service, never another namespace's). `stop()` — also on deinit —
/// ends both daemons and removes the directory.
final class FRRInstance {
    static let daemons = "/usr/lib/frr"

    /// True when zebra, bgpd and vtysh are installed (`scripts/install-deps` installs `frr`).
    static var available: Bool {
        ["\(daemons)/zebra", "\(daemons)/bgpd", "/usr/bin/vtysh"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    }

    let namespace: TestNamespace
    let directory: String
    private var processes: [Process] = []

    /// Starts zebra, then bgpd (`bgpConfig`); each in the foreground, as a child of this
    /// process, until `stop()`.
    init(in namespace: TestNamespace, bgpConfig: String) throws {
        self.namespace = namespace
        directory = "/tmp/hoist-frr-\(namespace.name)"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "hostname \(namespace.name)\n".write(toFile: "\(directory)/zebra.conf", atomically: true, encoding: .utf8)
        try bgpConfig.write(toFile: "\(directory)/bgpd.conf", atomically: true, encoding: .utf8)
        // The daemons drop to the frr user: it writes its sockets, pid files and logs here.
        _ = try TestNamespace.run("chown", ["-R", "frr:frr", directory])
        for daemon in ["zebra", "bgpd"] {
            // No TCP vty (-P 0); output to the daemon's log, never to a pipe of ours.
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            p.arguments = ["netns", "exec", namespace.name, "\(Self.daemons)/\(daemon)", "-f", "\(directory)/\(daemon).conf",
                           "-i", "\(directory)/\(daemon).pid", "-z", "\(directory)/zserv.api",
                           "--vty_socket", directory, "-P", "0", "--log", "file:\(directory)/\(daemon).log"]
            p.standardInput = FileHandle.nullDevice
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            processes.append(p)
            let ready = Date().addingTimeInterval(10)
            while p.isRunning, !FileManager.default.fileExists(atPath: "\(directory)/\(daemon).vty"), Date() < ready { usleep(20_000) }
            guard p.isRunning, FileManager.default.fileExists(atPath: "\(directory)/\(daemon).vty") else {
                let reason = log(daemon)
                stop()
                throw TestNamespace.CommandFailed(command: "\(daemon) in \(namespace.name)", status: p.isRunning ? 0 : p.terminationStatus,
                                                  output: reason)
            }
        }
    }

    /// Runs one `vtysh -c` command against these daemons.
    func vtysh(_ command: String) throws -> String {
        try namespace.exec(["vtysh", "--vty_socket", directory, "-c", command])
    }

    /// A log's text, for a failure's message.
    func log(_ daemon: String) -> String {
        (try? String(contentsOfFile: "\(directory)/\(daemon).log", encoding: .utf8)) ?? ""
    }

    /// Ends bgpd and zebra (SIGTERM, then SIGKILL after 3 s) and removes the directory.
    func stop() {
        for p in processes.reversed() where p.isRunning {
            p.terminate()
            let deadline = Date().addingTimeInterval(3)
            while p.isRunning, Date() < deadline { usleep(20_000) }
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
        processes = []
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }

    /// A BGP speaker with one external neighbour that carries EVPN and advertises every
    /// VNI (`advertise-all-vni`): the minimal leaf of an EVPN-VXLAN fabric.
    static func evpnLeaf(asn: UInt32, routerID: String, neighbor: String) -> String {
        """
        hostname as\(asn)
        router bgp \(asn)
         bgp router-id \(routerID)
         no bgp ebgp-requires-policy
         neighbor \(neighbor) remote-as external
         neighbor \(neighbor) timers connect 1
         address-family l2vpn evpn
          neighbor \(neighbor) activate
          advertise-all-vni
         exit-address-family

        """
    }
}

let needsFRR = Testing.ConditionTrait.enabled(if: TestNamespace.available && FRRInstance.available,
                                              "needs root and FRR (zebra, bgpd, vtysh: Debian's frr)")

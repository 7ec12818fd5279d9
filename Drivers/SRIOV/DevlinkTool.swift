#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// devlink, through iproute2's `devlink -j` — the eswitch mode, the ports (which netdev is
/// a PF, which representor is which VF) and the VF rate objects.
///
/// Why a CLI and not generic netlink: `Netlink` speaks rtnetlink over libnl-route-3; devlink
/// is a generic netlink family (`CTRL_CMD_GETFAMILY` first), and libnl-genl-3 is not a
/// dependency of this project. The SR-IOV driver needs four devlink requests, none on a
/// hot path, so running `devlink` keeps the socket layer rtnetlink-only. Replacing this
/// type with a `DevlinkChannel` in `Netlink` changes nothing above it.
struct DevlinkTool {
    /// Runs `devlink` in this network namespace (nil: the caller's), via `ip netns exec`.
    var namespace: String?
    var executable = "/usr/sbin/devlink"

    /// A devlink port: `DEV/INDEX`, its flavour, netdev and VF number.
    struct Port: Equatable {
        var handle: String
        var device: String
        var flavour: String
        var netdev: String?
        var vf: UInt32?
    }

    /// A failed `devlink` call: the kernel's message (`Error: netdevsim: …`) and errno text.
    struct Failure: Error, CustomStringConvertible {
        var arguments: [String]
        var message: String
        /// The kernel refused with `EOPNOTSUPP` ("Operation not supported").
        var notSupported: Bool { message.contains("Operation not supported") || message.contains("not supported") }
        var description: String { message }
    }

    /// `devlink -j port show`.
    func ports() throws -> [Port] {
        guard let top = try json(["port", "show"]) as? [String: Any], let ports = top["port"] as? [String: Any] else { return [] }
        return ports.keys.sorted(by: Self.handleOrder).compactMap { handle in
            guard let p = ports[handle] as? [String: Any] else { return nil }
            let device = handle.split(separator: "/").dropLast().joined(separator: "/")
            return Port(handle: handle, device: device, flavour: p["flavour"] as? String ?? "",
                        netdev: p["netdev"] as? String, vf: (p["vfnum"] as? NSNumber)?.uint32Value)
        }
    }

    /// `devlink -j dev eswitch show DEV`: `legacy`, `switchdev`; nil when the device has no eswitch.
    func eswitchMode(_ device: String) -> String? {
        guard let top = try? json(["dev", "eswitch", "show", device]) as? [String: Any],
              let devs = top["dev"] as? [String: Any], let d = devs[device] as? [String: Any] else { return nil }
        return d["mode"] as? String
    }

    /// `devlink -j port function rate show`: per leaf (`DEV/INDEX`), tx_share and tx_max in Mbit/s.
    func rates() throws -> [String: (share: UInt32, max: UInt32)] {
        guard let top = try json(["port", "function", "rate", "show"]) as? [String: Any],
              let rates = top["rate"] as? [String: Any] else { return [:] }
        var out: [String: (UInt32, UInt32)] = [:]
        for (handle, value) in rates {
            guard let r = value as? [String: Any], r["type"] as? String == "leaf" else { continue }
            out[handle] = (Self.mbit(r["tx_share"]), Self.mbit(r["tx_max"]))
        }
        return out
    }

    /// `devlink port function rate set DEV/INDEX tx_share Nmbit tx_max Mmbit`.
    func setRate(_ handle: String, share: UInt32, max: UInt32) throws {
        _ = try run(["port", "function", "rate", "set", handle, "tx_share", "\(share)mbit", "tx_max", "\(max)mbit"])
    }

    /// devlink's JSON gives rates in bytes per second (`-j` without `-p`); 1 Mbit/s is 125,000 B/s.
    static func mbit(_ value: Any?) -> UInt32 {
        guard let n = value as? NSNumber else { return 0 }
        return UInt32(clamping: n.uint64Value / 125_000)
    }

    /// `netdevsim/netdevsim11/2` before `…/128`: by device, then port number.
    static func handleOrder(_ a: String, _ b: String) -> Bool {
        let (da, pa) = split(a), (db, pb) = split(b)
        return da != db ? da < db : pa < pb
    }

    private static func split(_ handle: String) -> (String, Int) {
        let parts = handle.split(separator: "/")
        return (parts.dropLast().joined(separator: "/"), Int(parts.last ?? "") ?? 0)
    }

    private func json(_ arguments: [String]) throws -> Any {
        let out = try run(["-j"] + arguments)
        return try JSONSerialization.jsonObject(with: out.isEmpty ? Data("{}".utf8) : out)
    }

    /// Runs devlink with posix_spawn and collects its output. (Not Foundation's `Process`:
    /// its run loop needs a loopback socket pair, which fails where `lo` is down — the test VM.)
    private func run(_ arguments: [String]) throws -> Data {
        let argv = (namespace.map { ["/usr/sbin/ip", "netns", "exec", $0, executable] } ?? [executable]) + arguments
        var out: [Int32] = [0, 0], err: [Int32] = [0, 0]
        guard pipe(&out) == 0 else { throw Failure(arguments: arguments, message: "pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&err) == 0 else {
            close(out[0]); close(out[1])
            throw Failure(arguments: arguments, message: "pipe: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        for fd in out + err { posix_spawn_file_actions_addclose(&actions, fd) }
        let cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArguments, environ)
        posix_spawn_file_actions_destroy(&actions)
        for a in cArguments { free(a) }
        close(out[1])
        close(err[1])
        defer { close(out[0]); close(err[0]) }
        guard rc == 0 else { throw Failure(arguments: arguments, message: "cannot run \(argv[0]): \(String(cString: strerror(rc)))") }
        // devlink writes a few kilobytes at most: read stdout to the end, then stderr.
        let stdout = Self.readAll(out[0]), stderr = Self.readAll(err[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            let text = String(decoding: stderr, as: UTF8.self).split(separator: "\n").map(String.init)
            throw Failure(arguments: arguments, message: text.isEmpty ? "devlink \(arguments.joined(separator: " ")) failed" : text.joined(separator: "; "))
        }
        return stdout
    }

    private static func readAll(_ fd: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { data.append(contentsOf: buffer[..<n]) } else if n < 0 && errno == EINTR { continue } else { break }
        }
        return data
    }
}

import ControlAPI
import Foundation

/// Which control socket `hoist` talks to: `--socket PATH`; else, with `-n NETNS` (as
/// `ip -n`), the hoistd of that network namespace; else `HOIST_SOCKET`; else
/// `/run/hoist/hoistd.sock`.
///
/// The hoistd of a namespace listens on `/run/hoist/NETNS.sock` when it was started with
/// `-n NETNS` and no `--socket` (a lab switch's socket has the same name). A hoistd
/// started inside the namespace some other way (`ip netns exec NETNS hoistd --socket P`)
/// is found among the processes in that namespace, and its socket read from its
/// arguments and environment by the rule hoistd itself applies.
enum DaemonSocket {
    static func path(socket: String?, namespace: String?) throws -> String {
        if let socket { return socket }
        guard let namespace else { return ControlProtocol.socketPath(explicit: nil, namespace: nil) }
        let conventional = ControlProtocol.socketPath(namespace: namespace)
        if FileManager.default.fileExists(atPath: conventional) { return conventional }
        guard let wanted = identity(of: "/run/netns/\(namespace)") else {
            throw CommandFailure("network namespace '\(namespace)' does not exist (ip netns list)")
        }
        for pid in hoistdProcesses() where identity(of: "/proc/\(pid)/ns/net") == wanted {
            guard let argv = arguments(pid, "cmdline") else { continue }
            let environment = Dictionary(arguments(pid, "environ")?.compactMap { entry -> (String, String)? in
                guard let eq = entry.firstIndex(of: "=") else { return nil }
                return (String(entry[..<eq]), String(entry[entry.index(after: eq)...]))
            } ?? [], uniquingKeysWith: { a, _ in a })
            return ControlProtocol.socketPath(explicit: value(of: ["--socket"], in: argv),
                                              namespace: value(of: ["-n", "--netns"], in: argv),
                                              environment: { environment[$0] })
        }
        throw CommandFailure("no hoistd serves network namespace '\(namespace)': no \(conventional), and no hoistd runs in it")
    }

    /// The device and inode of a namespace file: equal for the same namespace.
    static func identity(of path: String) -> [UInt64]? {
        var s = stat()
        guard stat(path, &s) == 0 else { return nil }
        return [UInt64(s.st_dev), UInt64(s.st_ino)]
    }

    static func hoistdProcesses() -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let comm = FileManager.default.contents(atPath: "/proc/\(pid)/comm") else { return false }
            return String(decoding: comm, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == "hoistd"
        }
    }

    /// A NUL-separated /proc file of `pid` (cmdline, environ).
    static func arguments(_ pid: Int32, _ file: String) -> [String]? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/\(file)"), !data.isEmpty else { return nil }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The value of an option in `argv`: `--socket P` or `--socket=P`.
    static func value(of names: [String], in argv: [String]) -> String? {
        for (i, word) in argv.enumerated() {
            for name in names {
                if word == name, i + 1 < argv.count { return argv[i + 1] }
                if word.hasPrefix(name + "=") { return String(word.dropFirst(name.count + 1)) }
            }
        }
        return nil
    }
}

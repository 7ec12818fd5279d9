import ControlAPI
import Foundation
import Glibc
import Lab

/// `hoist lab`'s hands: runs a ``LabPlan``'s `ip` commands, starts each switch's hoistd,
/// runs the lab's commands, and finds and stops a lab's processes. All of the I/O is here;
/// the names and the plan are the `Lab` module's.
enum LabRunner {
    /// A command or process that failed; the message says which and why.
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    // MARK: - Up

    /// Builds the lab; when its spec says `start`, runs every switch and then its commands.
    /// On any failure everything made so far is torn down before the error is thrown.
    static func up(_ plan: LabPlan, file: String?) throws {
        let existing = try namespaces().filter { LabPlan.owns(lab: plan.name, namespace: $0) }
        guard existing.isEmpty else {
            throw Failure("lab '\(plan.name)' exists (\(existing.joined(separator: ", "))); `hoist lab down \(plan.name)` first")
        }
        var started: [(LabSpec.Switch, pid_t)] = []
        do {
            for step in plan.buildSteps { try ip(step) }
            if plan.spec.start {
                let hoistd = try siblingExecutable("hoistd"), asic = try siblingExecutable("hoist-asic")
                mkdir(LabPlan.runDirectory, 0o755)
                for s in plan.spec.switches { started.append((s, try startSwitch(s, of: plan, hoistd: hoistd, asic: asic))) }
                for (s, pid) in started { try waitUntilReady(s, of: plan, pid: pid) }
                for c in plan.spec.commands { try execute(c, of: plan, file: file) }
                for r in plan.spec.routing { try startFRR(r, of: plan, file: file) }
            }
        } catch {
            _ = try? down(plan.name)
            throw error
        }
        let hosts = plan.spec.hosts.map { "\($0.name) (\(plan.hostNamespace($0.name)))" }
        print("lab \(plan.name): hosts \(hosts.joined(separator: ", "))")
        for s in plan.spec.switches {
            print("switch \(s.name): namespace \(plan.switchNamespace(s.name)), wires \(plan.wireNamespace(s.name)), ports swp1…swp\(s.ports)")
            if let pid = started.first(where: { $0.0.name == s.name })?.1 {
                print("  hoistd pid \(pid), log \(plan.log(s.name)); chip log \(plan.chipLog(s.name)); hoist show ports -n \(plan.switchNamespace(s.name))")
            } else {
                print("  run it:  ip netns exec \(plan.wireNamespace(s.name)) hoist-asic \(plan.asicArguments(s).joined(separator: " ")) &")
                print("           hoistd \(plan.hoistdArguments(s).joined(separator: " "))")
            }
        }
        for r in plan.spec.routing where plan.spec.start {
            print("frr \(r.node): vtysh --vty_socket \(plan.frrDirectory(r.node)); logs in that directory")
        }
        if !plan.spec.start, !plan.spec.commands.isEmpty {
            print("then configure it:")
            for c in plan.spec.commands { print("  ip netns exec \(plan.namespace(ofNode: c.node)) \(c.arguments.joined(separator: " "))") }
        }
    }

    /// Starts switch `s`'s processes in the background, each detached in its own session
    /// with its output in its log: the chip (`hoist-asic`, inside the wire namespace) and,
    /// once it serves its chip link, the control plane (`hoistd --asic`, inside the switch's
    /// namespace) — so `ip netns pids` finds both. Returns hoistd's pid to wait on.
    static func startSwitch(_ s: LabSpec.Switch, of plan: LabPlan, hoistd: String, asic: String) throws -> pid_t {
        unlink(plan.socket(s.name))
        unlink(plan.chipSocket(s.name))
        let chip = try spawn(["ip", "netns", "exec", plan.wireNamespace(s.name), asic] + plan.asicArguments(s), log: plan.chipLog(s.name))
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: plan.chipSocket(s.name)) {
            var status: Int32 = 0
            if waitpid(chip, &status, WNOHANG) == chip {
                throw Failure("hoist-asic for switch \(s.name) exited (status \(status)); \(plan.chipLog(s.name)):\n\(logText(plan.chipLog(s.name)))")
            }
            guard Date() < deadline else {
                throw Failure("hoist-asic for switch \(s.name) did not serve its chip link after 30 s; \(plan.chipLog(s.name)):\n\(logText(plan.chipLog(s.name)))")
            }
            usleep(20_000)
        }
        return try spawn(["ip", "netns", "exec", plan.switchNamespace(s.name), hoistd] + plan.hoistdArguments(s), log: plan.log(s.name))
    }

    /// Waits until switch `s` serves its control socket and has every `swpN`; throws with
    /// the log if its process exits first or 30 s pass.
    static func waitUntilReady(_ s: LabSpec.Switch, of plan: LabPlan, pid: pid_t) throws {
        let deadline = Date().addingTimeInterval(30)
        let wanted = Set((1...s.ports).map { "swp\($0)" })
        while Date() < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                throw Failure("hoistd for switch \(s.name) exited (status \(status)) before it was ready; \(plan.log(s.name)):\n\(logText(plan.log(s.name)))")
            }
            if FileManager.default.fileExists(atPath: plan.socket(s.name)) {
                let links = (try? run(["ip", "-n", plan.switchNamespace(s.name), "-o", "link", "show"])) ?? ""
                let names = Set(links.split(separator: "\n").compactMap { $0.split(separator: ":").dropFirst().first?.trimmingCharacters(in: .whitespaces) })
                if wanted.isSubset(of: names) { return }
            }
            usleep(50_000)
        }
        throw Failure("hoistd for switch \(s.name) was not ready after 30 s; \(plan.log(s.name)):\n\(logText(plan.log(s.name)))")
    }

    /// Runs one `exec` line in its node's namespace; a failure names the file and line.
    static func execute(_ c: LabSpec.Command, of plan: LabPlan, file: String?) throws {
        do {
            try run(["ip", "netns", "exec", plan.namespace(ofNode: c.node)] + c.arguments)
        } catch let failure as Failure {
            throw LabError(file: file, line: c.line, "exec \(c.node): \(failure.description)")
        }
    }

    /// Runs FRR for `r.node`: zebra, bgpd and staticd in the node's namespace, each in
    /// its own session with its files in the node's FRR directory (owned by the `frr`
    /// user, which the daemons drop to), one after the other once the previous serves its
    /// vty; then applies the lab's configuration file through `vtysh -f`. A failure names
    /// the file and line.
    static func startFRR(_ r: LabSpec.Routing, of plan: LabPlan, file: String?) throws {
        func failure(_ message: String) -> LabError { LabError(file: file, line: r.line, "frr \(r.node): \(message)") }
        let zebra = "\(LabPlan.frrDaemonDirectory)/zebra"
        guard FileManager.default.isExecutableFile(atPath: zebra) else {
            throw failure("FRR is not installed (no \(zebra)): apt-get install frr, or scripts/install-deps")
        }
        let config = r.file.hasPrefix("/") || file == nil ? r.file
            : URL(fileURLWithPath: file!).deletingLastPathComponent().appendingPathComponent(r.file).path
        guard FileManager.default.isReadableFile(atPath: config) else { throw failure("cannot read \(config)") }
        let dir = plan.frrDirectory(r.node)
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for daemon in LabPlan.frrDaemons {
            try "hostname \(r.node)\n".write(toFile: "\(dir)/\(daemon).conf", atomically: true, encoding: .utf8)
        }
        // vtysh's own settings, read from --config_dir, never /etc/frr: this user needs no
        // PAM login (which a machine without /etc/pam.d, as the test VM, cannot give).
        let user = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "root"
        try "username \(user) nopassword\n".write(toFile: "\(dir)/vtysh.conf", atomically: true, encoding: .utf8)
        do { try run(["chown", "-R", "frr:frr", dir]) } catch { throw failure("\(error)") }
        for daemon in LabPlan.frrDaemons {
            let pid = try spawn(plan.frrArguments(r.node, daemon: daemon), log: "\(dir)/\(daemon).out")
            let deadline = Date().addingTimeInterval(30)
            while !FileManager.default.fileExists(atPath: "\(dir)/\(daemon).vty") {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    throw failure("\(daemon) exited (status \(status)): \(logText("\(dir)/\(daemon).log"))\(logText("\(dir)/\(daemon).out"))")
                }
                guard Date() < deadline else { throw failure("\(daemon) did not serve its vty after 30 s: \(logText("\(dir)/\(daemon).log"))") }
                usleep(20_000)
            }
        }
        do {
            try run(["vtysh", "--config_dir", dir, "--vty_socket", dir, "-f", config])
        } catch {
            throw failure("applying \(config): \(error)")
        }
    }

    /// The executable `name` in the directory of the running `hoist`.
    static func siblingExecutable(_ name: String) throws -> String {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let path = URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Failure("no \(name) next to hoist (\(path)); build it: swift build --product \(name)")
        }
        return path
    }

    /// Starts `argv` (searched in PATH) with stdin from /dev/null and stdout and stderr
    /// appended to a truncated `log`, in a new session with default signal handling, and
    /// no other descriptor of ours; does not wait for it.
    static func spawn(_ argv: [String], log: String) throws -> pid_t {
        markDescriptorsCloseOnExec()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), defaults = sigset_t()
        sigemptyset(&none)
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        let setsid: Int32 = 0x80  // POSIX_SPAWN_SETSID (glibc ≥ 2.26), not exported to Swift
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | setsid))
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, &attributes, &cArgs, environ)
        guard rc == 0 else { throw Failure("starting \(argv[0]): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// Sets FD_CLOEXEC on every descriptor above stderr, so a background process holds no
    /// pipe of ours (a caller reading our output to EOF would otherwise wait for it).
    static func markDescriptorsCloseOnExec() {
        guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
        for fd in fds.compactMap({ Int32($0) }) where fd > 2 {
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    // MARK: - Down

    /// Stops every process of lab `name` — those inside its namespaces (`ip netns pids`)
    /// and any hoistd or hoist-asic whose arguments name one of them, even one whose
    /// namespace was deleted — first with SIGTERM (up to 5 s, so hoistd can print its
    /// report), then SIGKILL; writes the switches' logs to `printLogs` if given; deletes the
    /// namespaces, sockets and logs. Needs no state, so it also cleans up after a crash.
    @discardableResult
    static func down(_ name: String, printLogs: FileHandle? = nil) throws -> (processes: Int, namespaces: Int) {
        let mine = try namespaces().filter { LabPlan.owns(lab: name, namespace: $0) }
        var targets = Set(mine.flatMap { pids(inNamespace: $0) })
        targets.formUnion(daemons(of: name))
        targets.remove(getpid())
        // The control planes first, so each hoistd stops (and prints its report) while its
        // chip still answers; then the chips and everything else.
        let controlPlanes = targets.filter { arguments(of: $0)?.first.map { $0.hasSuffix("/hoistd") || $0 == "hoistd" } ?? false }
        stop(Array(controlPlanes))
        stop(Array(targets.subtracting(controlPlanes)))
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: LabPlan.runDirectory)) ?? []).filter {
            ($0.hasSuffix(".log") || $0.hasSuffix(".sock")) && LabPlan.owns(lab: name, namespace: String($0.dropLast($0.hasSuffix(".log") ? 4 : 5)))
        }.sorted()
        if let printLogs {
            for file in files where file.hasSuffix(".log") {
                let path = "\(LabPlan.runDirectory)/\(file)"
                printLogs.write(Data("== \(path)\n\(logText(path, lines: nil))".utf8))
            }
        }
        var failures: [String] = []
        for ns in mine {
            do { try ip(["netns", "del", ns]) } catch { failures.append("\(error)") }
        }
        for file in files { unlink("\(LabPlan.runDirectory)/\(file)") }
        let frr = ((try? FileManager.default.contentsOfDirectory(atPath: LabPlan.runDirectory)) ?? [])
            .filter { LabPlan.ownsFRRDirectory(lab: name, $0) }
        for dir in frr { try? FileManager.default.removeItem(atPath: "\(LabPlan.runDirectory)/\(dir)") }
        guard failures.isEmpty else { throw Failure(failures.joined(separator: "\n")) }
        return (targets.count, mine.count)
    }

    /// SIGTERM, wait up to 5 s, then SIGKILL and wait up to 2 s more.
    static func stop(_ pids: [pid_t]) {
        guard !pids.isEmpty else { return }
        for pid in pids { kill(pid, SIGTERM) }
        if waitForExit(pids, seconds: 5) { return }
        for pid in pids where isAlive(pid) { kill(pid, SIGKILL) }
        _ = waitForExit(pids, seconds: 2)
    }

    static func waitForExit(_ pids: [pid_t], seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            if !pids.contains(where: isAlive) { return true }
            usleep(20_000)
        } while Date() < deadline
        return false
    }

    /// False once the process is gone or a zombie (reaping it when it is our child).
    static func isAlive(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first != "Z"
    }

    /// Processes inside namespace `ns`; none if it does not exist.
    static func pids(inNamespace ns: String) -> [pid_t] {
        ((try? run(["ip", "netns", "pids", ns])) ?? "").split(separator: "\n").compactMap { pid_t($0) }
    }

    /// Running hoistd and hoist-asic processes whose arguments name a namespace of lab
    /// `lab`, and FRR daemons whose `--vty_socket` is one of its FRR directories.
    static func daemons(of lab: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), let argv = arguments(of: pid), let first = argv.first else { return nil }
            let program = first.split(separator: "/").last.map(String.init) ?? first
            if LabPlan.frrDaemons.contains(program), let i = argv.firstIndex(of: "--vty_socket"), i + 1 < argv.count {
                let dir = argv[i + 1]
                return dir.hasPrefix(LabPlan.runDirectory + "/")
                    && LabPlan.ownsFRRDirectory(lab: lab, String(dir.dropFirst(LabPlan.runDirectory.count + 1))) ? pid : nil
            }
            guard program == "hoistd" || program == "hoist-asic" else { return nil }
            return argv.dropFirst().contains { LabPlan.owns(lab: lab, namespace: $0) } ? pid : nil
        }
    }

    static func arguments(of pid: pid_t) -> [String]? { DaemonSocket.arguments(pid, "cmdline") }

    // MARK: - List

    /// One line per lab: its switches (with their hoistd pids, or `stopped`, namespace and
    /// control socket) and hosts.
    static func list() throws -> [String] {
        let all = try namespaces()
        return LabPlan.labs(in: all).map { lab in
            let running = Dictionary(daemons(of: lab.name).compactMap { pid -> (String, pid_t)? in
                guard let argv = arguments(of: pid), argv.first?.hasSuffix("hoistd") == true,
                      let i = argv.firstIndex(of: "-n"), i + 1 < argv.count else { return nil }
                return (argv[i + 1], pid)
            }, uniquingKeysWith: { a, _ in a })
            // Each switch with what `hoist -n NETNS` (or `--socket`) needs to reach its hoistd.
            let switches = lab.switches.map { s in
                let ns = "\(lab.name)-\(s.name)"
                let state = running[ns].map { "hoistd pid \($0)" } ?? "stopped"
                let place = s.hasSwitchNamespace ? "netns \(ns), socket \(ControlProtocol.socketPath(namespace: ns))" : "no switch namespace"
                return "\(s.name) (\(state), \(place))"
            }
            return "\(lab.name): switches \(switches.joined(separator: ", ")); hosts \(lab.hosts.isEmpty ? "none" : lab.hosts.joined(separator: ", "))"
        }
    }

    // MARK: - Commands

    static func ip(_ args: [String]) throws { try run(["ip"] + args) }

    /// Names from `ip netns list`.
    static func namespaces() throws -> [String] {
        try run(["ip", "netns", "list"]).split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
    }

    /// Runs `argv` (searched in PATH) to completion; its output, or a Failure with it.
    @discardableResult
    static func run(_ argv: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw Failure("`\(argv.joined(separator: " "))` failed (exit \(p.terminationStatus)): \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return text
    }

    /// A log's last `lines` lines (all when nil).
    static func logText(_ path: String, lines: Int? = 20) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        guard let lines else { return text }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}

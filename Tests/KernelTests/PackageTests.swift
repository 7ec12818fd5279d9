import Foundation
import Testing

/// The Debian package (`scripts/package`): what it holds, and its systemd units started as
/// systemd would start them — from a scratch root the package was unpacked into, with the
/// package's configuration files pointed at test namespaces.
@Suite("Debian package and its units", needsRoot, .serialized)
struct PackageTests {
    static let root = HoistdCLITests.binaries.deletingLastPathComponent().deletingLastPathComponent()

    /// `ExecStart=` of a unit file, split into words.
    static func execStart(_ unit: String) -> [String] {
        unit.split(separator: "\n").first { $0.hasPrefix("ExecStart=") }.map { $0.dropFirst("ExecStart=".count).split(separator: " ").map(String.init) } ?? []
    }

    @Test("scripts/package: a .deb with the binaries, man pages, completions, units and conffiles; the units verify and, started from a scratch root, serve hoist show; SIGHUP re-reads the log level")
    func package() throws {
        guard HoistLabTests.built() else { return }
        let scratch = "/tmp/hoist-test-package-\(getpid())"
        try? FileManager.default.removeItem(atPath: scratch)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let built = try HoistdCLITests.run(Self.root.appendingPathComponent("scripts/package").path, ["--debug", "--output", scratch])
        try #require(built.status == 0, "\(built.output) \(built.error)")
        let deb = built.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let version = try HoistdCLITests.run("hoist", ["--version"]).output.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? "?"
        #expect(deb.hasSuffix("/hoist_\(version)_amd64.deb"), "\(deb)")

        let info = try HoistdCLITests.run("/usr/bin/dpkg-deb", ["--field", deb, "Package", "Version", "Depends"]).output
        #expect(info.contains("Package: hoist") && info.contains("Version: \(version)") && info.contains("libnl-route-3-200"), "\(info)")
        let contents = try HoistdCLITests.run("/usr/bin/dpkg-deb", ["--contents", deb]).output
        for path in ["./usr/bin/hoist", "./usr/bin/hoistd", "./usr/bin/hoist-asic", "./usr/share/man/man8/hoistd.8.gz",
                     "./usr/share/bash-completion/completions/hoist", "./usr/share/zsh/vendor-completions/_hoist",
                     "./usr/share/fish/vendor_completions.d/hoist.fish", "./lib/systemd/system/hoistd.service",
                     "./lib/systemd/system/hoist-asic.service", "./etc/hoist/hoistd.conf", "./etc/hoist/hoist-asic.conf"] {
            #expect(contents.contains(path + "\n"), "\(path) is not in the package")
        }
        let conffiles = try HoistdCLITests.run("/bin/sh", ["-c", "dpkg-deb --ctrl-tarfile \(deb) | tar -xO ./conffiles"]).output
        #expect(conffiles == "/etc/hoist/hoistd.conf\n/etc/hoist/hoist-asic.conf\n", "\(conffiles)")

        let unpacked = scratch + "/root"
        #expect(try HoistdCLITests.run("/usr/bin/dpkg-deb", ["-x", deb, unpacked]).status == 0)
        let man = try HoistdCLITests.run("/bin/sh", ["-c", "zcat \(unpacked)/usr/share/man/man8/hoist.8.gz"]).output
        #expect(man.contains(".TH \"HOIST\" 8") && man.contains(".SH HOIST SHOW") && man.contains("\\-\\-socket"), "the man page: \(man.prefix(400))")

        // The units as systemd reads them, with the unpacked binaries in ExecStart.
        var units: [String: String] = [:]
        for name in ["hoistd.service", "hoist-asic.service"] {
            let text = try String(contentsOfFile: "\(unpacked)/lib/systemd/system/\(name)", encoding: .utf8)
                .replacingOccurrences(of: "/usr/bin/", with: "\(unpacked)/usr/bin/")
                .replacingOccurrences(of: "/etc/hoist/", with: "\(unpacked)/etc/hoist/")
            units[name] = text
            try text.write(toFile: "\(scratch)/\(name)", atomically: false, encoding: .utf8)
        }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") {
            let verify = try HoistdCLITests.run("/usr/bin/systemd-analyze", ["verify", "--man=no", "\(scratch)/hoistd.service", "\(scratch)/hoist-asic.service"])
            #expect(verify.status == 0 && verify.error.isEmpty, "systemd-analyze verify: \(verify.error)")
        } else {
            print("PackageTests: systemd-analyze is not installed; the units' syntax is not verified")
        }

        // The package's configuration, pointed at this test's namespaces and sockets.
        let wires = try TestNamespace("pw")
        let sw = try TestNamespace("ps")
        let host = try TestNamespace("ph")
        try wires.ip("link add fp1 type veth peer name eth0 netns \(host.name)")
        try wires.ip("link set fp1 up")
        let chipSocket = "\(scratch)/asic.sock", control = "\(scratch)/hoistd.sock"
        var asicConf = try String(contentsOfFile: "\(unpacked)/etc/hoist/hoist-asic.conf", encoding: .utf8)
        asicConf = asicConf.replacingOccurrences(of: "socket = /run/hoist/asic.sock", with: "socket = \(chipSocket)")
            + "port = 1=fp1\nnetns = \(sw.name)\nwire-netns = \(wires.name)\n"
        try asicConf.write(toFile: "\(unpacked)/etc/hoist/hoist-asic.conf", atomically: false, encoding: .utf8)
        var daemonConf = try String(contentsOfFile: "\(unpacked)/etc/hoist/hoistd.conf", encoding: .utf8)
        daemonConf = daemonConf.replacingOccurrences(of: "asic = /run/hoist/asic.sock", with: "asic = \(chipSocket)")
            .replacingOccurrences(of: "socket = /run/hoist/hoistd.sock", with: "socket = \(control)") + "netns = \(sw.name)\n"
        try daemonConf.write(toFile: "\(unpacked)/etc/hoist/hoistd.conf", atomically: false, encoding: .utf8)

        func start(_ unit: String, log: String) throws -> Process {
            let argv = Self.execStart(units[unit]!)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: argv[0])
            p.arguments = Array(argv.dropFirst())
            let fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            p.standardError = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
            try p.run()
            return p
        }
        let chip = try start("hoist-asic.service", log: "\(scratch)/asic.log")
        defer { ChipRestartTests.stop(chip) }
        ChipRestartTests.waitFor(chipSocket)
        let daemon = try start("hoistd.service", log: "\(scratch)/hoistd.log")
        defer { ChipRestartTests.stop(daemon) }
        ChipRestartTests.waitFor(control)
        try sw.ip("link set swp1 up")
        var ports = ""
        for _ in 0..<100 {
            ports = try HoistdCLITests.run("\(unpacked)/usr/bin/hoist", ["show", "ports", "--socket", control]).output
            if ports.contains("swp1") && ports.contains("offloaded") { break }
            usleep(20_000)
        }
        #expect(ports.contains("swp1") && ports.contains("offloaded"), "hoist show ports from the unpacked units: \(ports)")

        // systemctl reload: SIGHUP re-reads the file's log level.
        try daemonConf.replacingOccurrences(of: "log-level = info", with: "log-level = debug")
            .write(toFile: "\(unpacked)/etc/hoist/hoistd.conf", atomically: false, encoding: .utf8)
        kill(daemon.processIdentifier, SIGHUP)
        var log = ""
        for _ in 0..<100 {
            log = (try? String(contentsOfFile: "\(scratch)/hoistd.log", encoding: .utf8)) ?? ""
            if log.contains("log level debug") { break }
            usleep(20_000)
        }
        #expect(log.contains("SIGHUP: re-read \(unpacked)/etc/hoist/hoistd.conf: log level debug"), "\(log)")
        #expect(daemon.isRunning)
    }
}

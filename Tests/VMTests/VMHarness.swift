import Foundation
import Testing

/// Runs `scripts/vm` (the test VM: Debian's kernel under QEMU, see Docs/VM.md) and
/// collects what it printed. The VM tests go through this, never through QEMU directly.
enum VMHarness {
    /// The project root, from this file's path (Tests/VMTests/VMHarness.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let script = root.appendingPathComponent("scripts/vm").path
    static let debugBinaries = root.appendingPathComponent(".build/debug")

    /// scripts/vm's own exit statuses (a guest script's status is passed through).
    static let skipStatus: Int32 = 77
    static let timeoutStatus: Int32 = 124
    static let harnessFailureStatus: Int32 = 125

    struct Run {
        var status: Int32
        var output: String
        var error: String
        var seconds: Double

        /// Lines of the guest's output.
        var lines: [Substring] { output.split(separator: "\n") }
        /// The harness's reason for a skip: its "vm: SKIP: …" line.
        var skipReason: String {
            error.split(separator: "\n").first { $0.hasPrefix("vm: SKIP:") }.map(String.init) ?? error
        }
    }

    /// Starts `scripts/vm ARGUMENTS`: its output goes to files (no pipe can fill up and
    /// stall it); `whileRunning` is called every 0.2 s with the output so far until it exits.
    static func run(_ arguments: [String], environment: [String: String] = [:],
                    whileRunning: ((_ process: Process, _ output: String) -> Void)? = nil) throws -> Run {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hoist-vmtest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        defer { try? out.close(); try? err.close() }

        let p = Process()
        p.executableURL = URL(fileURLWithPath: script)
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = out
        p.standardError = err
        let start = Date()
        try p.run()
        while p.isRunning {
            usleep(200_000)
            if let whileRunning { whileRunning(p, (try? String(contentsOf: outURL, encoding: .utf8)) ?? "") }
        }
        p.waitUntilExit()
        return Run(status: p.terminationStatus,
                   output: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                   error: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "",
                   seconds: Date().timeIntervalSince(start))
    }

    /// Cancels the running test (reported as skipped, with the harness's reason) when the
    /// harness said the VM cannot run here.
    static func skipIfUnavailable(_ run: Run) throws {
        if run.status == skipStatus {
            try Test.cancel("the test VM cannot run here: \(run.skipReason)")
        }
    }

    /// True when the project's debug `tools` are built; records an issue naming the first
    /// one that is not.
    static func requireBinaries(_ tools: [String]) -> Bool {
        for tool in tools {
            let path = debugBinaries.appendingPathComponent(tool).path
            guard FileManager.default.isExecutableFile(atPath: path) else {
                Issue.record("\(path) is not built; run `swift build` first")
                return false
            }
        }
        return true
    }

    /// Expects a guest suite's run to end with status 0 and to print `PASS name` for every
    /// one of `checks`; records each `FAIL` line, and the output when the run failed.
    static func expectPassed(_ run: Run, _ checks: [String], suite: String) {
        print("VM \(suite) suite: \(String(format: "%.1f", run.seconds)) s, status \(run.status)")
        #expect(run.status == 0, "the guest script failed (status \(run.status))")
        let lines = Set(run.lines.map(String.init))
        for check in checks { #expect(lines.contains("PASS \(check)"), "no PASS \(check)") }
        for failed in run.lines where failed.hasPrefix("FAIL ") { Issue.record("\(failed)") }
        if run.status != 0 { Issue.record("guest output:\n\(run.output)\nharness:\n\(run.error)") }
    }
}

import Difftest
import Foundation
import Glibc
import Lab
import ServiceSupport

/// `hoist-difftest [--keep] [--verbose] SCENARIO…`: builds each scenario twice — the kernel's
/// own bridge/router on veths (the reference) and the emulated switch (hoist-asic + hoistd)
/// — runs the same commands and probes in both, and compares what every host received.
/// SCENARIO is a `.diff` file or a directory of them. The last line printed is
/// `N scenarios, I identical, M differ` (a scenario that could not run counts as differing).
/// Exit status: 0 when every scenario that ran is identical, 1 otherwise, 2 on bad usage.
/// Docs/Testing.md, "How to write a difftest scenario".
///
/// `hoist-difftest --random [--seed N] [--steps N] [--svi] [--keep] [--verbose]`: the
/// random operator instead (``RandomRun``; seed by default from the clock, 200 steps).
/// The last line is `random: seed S, N steps, identical (…)` or
/// `random: seed S, differs at step N`.

var arguments = Array(CommandLine.arguments.dropFirst())
if arguments == ["--version"] {
    print(HoistVersion.line("hoist-difftest"))
    exit(0)
}
let keep = arguments.contains("--keep")
let verbose = arguments.contains("--verbose")
let random = arguments.contains("--random")
let svi = arguments.contains("--svi")
arguments.removeAll { $0 == "--keep" || $0 == "--verbose" || $0 == "--random" || $0 == "--svi" }
/// `--NAME N` taken out of the arguments.
@MainActor func numberOption(_ name: String) -> UInt64? {
    guard let i = arguments.firstIndex(of: name) else { return nil }
    guard i + 1 < arguments.count, let n = UInt64(arguments[i + 1]) else {
        FileHandle.standardError.write(Data("\(name) takes a number\n".utf8))
        exit(2)
    }
    arguments.removeSubrange(i...(i + 1))
    return n
}
let seed = numberOption("--seed") ?? UInt64(Date().timeIntervalSince1970 * 1000) % 1_000_000_000
let stepCount = Int(numberOption("--steps") ?? 200)
let usage = "usage: hoist-difftest [--keep] [--verbose] SCENARIO.diff|DIRECTORY…\n"
    + "       hoist-difftest --random [--seed N] [--steps N] [--svi] [--keep] [--verbose]\n"
guard random ? arguments.isEmpty : (!arguments.isEmpty && !arguments.contains(where: { $0.hasPrefix("-") })) else {
    FileHandle.standardError.write(Data(usage.utf8))
    exit(2)
}
guard getuid() == 0 else {
    FileHandle.standardError.write(Data("hoist-difftest needs root (network namespaces)\n".utf8))
    exit(2)
}


var files: [String] = []
for a in arguments {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: a, isDirectory: &isDirectory) else {
        FileHandle.standardError.write(Data("no such scenario: \(a)\n".utf8))
        exit(2)
    }
    if isDirectory.boolValue {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: a)) ?? []
        files += names.filter { $0.hasSuffix(".diff") }.sorted().map { "\(a)/\($0)" }
    } else {
        files.append(a)
    }
}

let hoist: String = {
    let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent("hoist").path
}()
guard FileManager.default.isExecutableFile(atPath: hoist) else {
    FileHandle.standardError.write(Data("no hoist next to hoist-difftest (\(hoist)); swift build first\n".utf8))
    exit(2)
}

Leftovers.remove(hoist: hoist)
/// `exec` lines find the helpers of `tools/` next to their scenarios' directory (for what
/// this iproute2 cannot say, e.g. Tests/Difftest/tools/bridge-mst) ahead of PATH.
let basePath = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
func useTools(of file: String) {
    let tools = URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("tools").standardizedFileURL.path
    setenv("PATH", FileManager.default.fileExists(atPath: tools) ? "\(tools):\(basePath)" : basePath, 1)
}
let features = KernelFeatures()

if random {
    let available = Set(Scenario.features.filter { features.has($0) })
    let missing = Scenario.features.subtracting(available).sorted()
    say("random: seed \(seed), \(stepCount) steps" + (missing.isEmpty ? "" : "; not generated (this kernel lacks them): \(missing.joined(separator: ", "))"))
    let started = Date()
    let (outcome, stats) = RandomRun(seed: seed, steps: stepCount, options: .init(sviAddresses: svi, features: available),
                                     prefix: "hoist-dt\(getpid())r", hoist: hoist, verbose: verbose, keep: keep).run()
    let seconds = String(format: "%.0f s", Date().timeIntervalSince(started))
    switch outcome {
    case .identical(let probes):
        say("random: seed \(seed), \(stepCount) steps, identical (\(probes) probe frames, \(stats.refused) commands refused by both, \(seconds))")
        exit(0)
    case .differ(let report):
        say(report)
        say("random: seed \(seed), differs (\(seconds))")
    case .error(let message):
        say("ERROR: \(message)")
        say("random: seed \(seed), error (\(seconds))")
    }
    exit(1)
}
var identical = 0, differ = 0, skipped = 0
for (i, file) in files.enumerated() {
    let name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
    let started = Date()
    let scenario: Scenario
    do {
        scenario = try Scenario.parse(try String(contentsOfFile: file, encoding: .utf8), name: name, file: file)
    } catch {
        say("ERROR \(name): \(error)")
        differ += 1
        continue
    }
    if let missing = scenario.requirements.first(where: { !features.has($0) }) {
        say("SKIP  \(name): this kernel lacks \(missing) (run it in the test VM: scripts/difftest --vm)")
        skipped += 1
        continue
    }
    useTools(of: file)
    let outcome = DifftestRun(scenario: scenario, prefix: "hoist-dt\(getpid())x\(i)", hoist: hoist, verbose: verbose, keep: keep).run()
    let seconds = String(format: "%.1f s", Date().timeIntervalSince(started))
    switch outcome {
    case .identical(let probes):
        say("OK    \(name) (\(probes) probes, \(seconds))")
        identical += 1
    case .differ(let report):
        say("DIFF  \(name) (\(seconds))\n\(report)")
        differ += 1
    case .error(let message):
        say("ERROR \(name): \(message)")
        differ += 1
    }
}
if skipped > 0 { say("\(skipped) skipped (kernel features missing)") }
say("\(identical + differ) scenarios, \(identical) identical, \(differ) differ")
exit(differ == 0 ? 0 : 1)

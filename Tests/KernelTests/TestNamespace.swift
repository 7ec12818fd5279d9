import Foundation
import Testing

/// A network namespace made for one test and deleted when the test lets go of it, with
/// helpers to run `ip`/`bridge` inside it. Everything a test creates lives inside, so
/// deleting the namespace cleans up even after a failure.
final class TestNamespace {
    let name: String

    /// True when this process may create namespaces (root) and iproute2 is installed.
    static var available: Bool {
        getuid() == 0 && ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].contains { FileManager.default.isExecutableFile(atPath: $0) }
    }

    init(_ label: String) throws {
        name = "hoist-t-\(label)-\(getpid())-\(UInt32.random(in: 0..<1_000_000))"
        try Self.run("ip", ["netns", "add", name])
        try ip("link set lo up")
    }

    deinit { _ = try? Self.run("ip", ["netns", "del", name]) }

    /// Runs one `ip` command per line of `script` (blank lines skipped), in order.
    func ipScript(_ script: String) throws {
        for line in script.split(separator: "\n") where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            try ip(line.trimmingCharacters(in: .whitespaces))
        }
    }

    /// Runs `ip -n NAME ARGS…`.
    @discardableResult
    func ip(_ args: String) throws -> String { try Self.run("ip", ["-n", name] + args.split(separator: " ").map(String.init)) }

    /// Runs `bridge -n NAME ARGS…`.
    @discardableResult
    func bridge(_ args: String) throws -> String { try Self.run("bridge", ["-n", name] + args.split(separator: " ").map(String.init)) }

    /// Waits (at most 5 s) until no IPv6 address is tentative: duplicate address detection
    /// ends by adding each address's local route, so until then the kernel's tables change
    /// on their own.
    func waitForDAD() throws {
        for _ in 0..<200 {
            if try ip("-6 addr show tentative").isEmpty { return }
            usleep(25_000)
        }
    }

    /// Runs a command inside the namespace (`ip netns exec`).
    @discardableResult
    func exec(_ command: [String]) throws -> String { try Self.run("ip", ["netns", "exec", name] + command) }

    /// Parses `ip -n NAME -j ARGS…` output.
    func ipJSON(_ args: String) throws -> [[String: Any]] {
        let out = try ip("-j " + args)
        return (try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]]) ?? []
    }

    func bridgeJSON(_ args: String) throws -> [[String: Any]] {
        let out = try bridge("-j " + args)
        return (try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]]) ?? []
    }

    struct CommandFailed: Error, CustomStringConvertible {
        var command: String
        var status: Int32
        var output: String
        var description: String { "`\(command)` exited \(status): \(output)" }
    }

    @discardableResult
    static func run(_ tool: String, _ args: [String], input: String? = nil) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [tool] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        let inPipe = Pipe()
        p.standardInput = inPipe
        try p.run()
        if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try? inPipe.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else {
            throw CommandFailed(command: ([tool] + args).joined(separator: " "), status: p.terminationStatus, output: text)
        }
        return text
    }
}

let needsRoot = Testing.ConditionTrait.enabled(if: TestNamespace.available, "needs root and iproute2 to create network namespaces")

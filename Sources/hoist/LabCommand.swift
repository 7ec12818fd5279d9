import ArgumentParser
import Foundation

/// `hoist lab`: namespaced hosts wired to an emulated switch, for demos and tests.
///
/// `up NAME` makes `NAME-asic` (the chip's front-panel wires `fp1`…), `NAME-sw` (the
/// switch, where hoistd puts `swp1`…) and `NAME-h1`… (hosts with `eth0`), and prints the
/// `hoistd` command that runs the switch. `down NAME` deletes every namespace named
/// `NAME-…`, so it also cleans up after a crash; it needs no state.
struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Build or tear down a topology of hosts wired to an emulated switch.",
        subcommands: [Up.self, Down.self, List.self]
    )

    static func validName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 20 && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
    }

    static func ip(_ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ip"] + args
        let err = Pipe()
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw ValidationError("`ip \(args.joined(separator: " "))` failed: \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    static func namespaces() throws -> [String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ip", "netns", "list"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return text.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
    }

    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create NAME-asic, NAME-sw and NAME-h1…NAME-hN.")

        @Argument(help: "The lab's name (letters, digits, - and _; at most 20).")
        var name: String

        @Option(help: "How many hosts (one per switch port).")
        var hosts: Int = 2

        @Option(help: "Give host n the address PREFIX.n/24 on eth0 (e.g. 10.0.0); none when omitted.")
        var subnet: String?

        func validate() throws {
            guard LabCommand.validName(name) else { throw ValidationError("lab names are letters, digits, - and _, at most 20: '\(name)'") }
            guard (1...64).contains(hosts) else { throw ValidationError("--hosts takes 1…64, not \(hosts)") }
            if let subnet {
                let parts = subnet.split(separator: ".")
                guard parts.count == 3, parts.allSatisfy({ UInt8($0) != nil }) else {
                    throw ValidationError("--subnet takes the first three octets, like 10.0.0, not '\(subnet)'")
                }
            }
            let existing = try LabCommand.namespaces().filter { $0.hasPrefix("\(name)-") }
            guard existing.isEmpty else {
                throw ValidationError("lab '\(name)' exists (\(existing.joined(separator: ", "))); `hoist lab down \(name)` first")
            }
        }

        func run() throws {
            do {
                try LabCommand.ip(["netns", "add", "\(name)-asic"])
                try LabCommand.ip(["netns", "add", "\(name)-sw"])
                for n in 1...hosts {
                    let host = "\(name)-h\(n)"
                    try LabCommand.ip(["netns", "add", host])
                    try LabCommand.ip(["-n", "\(name)-asic", "link", "add", "fp\(n)", "type", "veth", "peer", "name", "eth0", "netns", host])
                    try LabCommand.ip(["-n", "\(name)-asic", "link", "set", "fp\(n)", "up"])
                    try LabCommand.ip(["-n", host, "link", "set", "lo", "up"])
                    if let subnet { try LabCommand.ip(["-n", host, "addr", "add", "\(subnet).\(n)/24", "dev", "eth0"]) }
                    try LabCommand.ip(["-n", host, "link", "set", "eth0", "up"])
                }
            } catch {
                try? Down(name: name).run()
                throw error
            }
            let ports = (1...hosts).map { "--port \($0)=fp\($0)" }.joined(separator: " ")
            print("lab \(name): switch \(name)-sw, wires \(name)-asic, hosts \(name)-h1…\(name)-h\(hosts)")
            print("run the switch:  hoistd -n \(name)-sw --wire-netns \(name)-asic \(ports)")
        }
    }

    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete every namespace of lab NAME (also after a crash).")

        @Argument(help: "The lab's name.")
        var name: String

        init() {}
        init(name: String) { self.name = name }

        func validate() throws {
            guard LabCommand.validName(name) else { throw ValidationError("lab names are letters, digits, - and _, at most 20: '\(name)'") }
        }

        func run() throws {
            let mine = try LabCommand.namespaces().filter { $0.hasPrefix("\(name)-") }
            for ns in mine { try LabCommand.ip(["netns", "del", ns]) }
            print("lab \(name): \(mine.count) namespaces deleted")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List labs (by their NAME-sw namespaces).")

        func run() throws {
            for ns in try LabCommand.namespaces() where ns.hasSuffix("-sw") { print(ns.dropLast(3)) }
        }
    }
}

import ArgumentParser
import Foundation
import Lab

/// `hoist lab`: namespaced hosts wired to emulated switches, and switches wired to each
/// other, for demos and tests (Docs/Lab.md).
///
/// `up NAME --file F` builds what lab file F declares; `up NAME --hosts N [--subnet P]` is
/// the one-switch shorthand. Switch S lives in `NAME-S` (where hoistd makes `swp1`…) with
/// its front-panel wires in `NAME-S-asic`; host H in `NAME-H` with `eth0`. With `--start`
/// (or `start` in the file) each switch's hoistd runs in the background and the file's
/// `exec` lines configure the lab. `down NAME` stops the lab's processes and deletes its
/// namespaces, found by name alone, so it also cleans up after a crash.
struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Build, list or tear down a topology of hosts wired to emulated switches.",
        subcommands: [Up.self, Down.self, List.self]
    )

    /// Why `--hosts`/`--subnet` make no one-switch lab, or nil.
    static func problem(hosts: Int, subnet: String?) -> String? {
        do {
            _ = try LabSpec.oneSwitch(hosts: hosts, subnet: subnet)
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// `up` and `down` create and delete namespaces and processes: root only (`list` reads).
    static func requireRoot(_ verb: String) throws {
        guard geteuid() == 0 else { throw CommandFailure("hoist lab \(verb) must be run as root (it creates and deletes network namespaces)") }
    }

    static func checkName(_ name: String) throws {
        guard LabPlan.isLabName(name) else {
            throw ValidationError("lab names are letters, digits, - and _, starting with a letter or digit, at most 32: '\(name)'")
        }
    }

    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create lab NAME from a lab file, or one switch with N hosts.",
            discussion: """
                With --file, the lab file declares switches, hosts, links and commands (Docs/Lab.md). \
                Without it, one switch `sw` with --hosts ports and hosts h1…hN (host n at SUBNET.n/24 \
                with --subnet). Namespaces: NAME-S and NAME-S-asic per switch, NAME-H per host.
                """
        )

        @Argument(help: "The lab's name (letters, digits, - and _; at most 32).")
        var name: String

        @Option(help: "The lab file to build.")
        var file: String?

        @Option(help: "Without --file: how many hosts (one per switch port; default 2).")
        var hosts: Int?

        @Option(help: "Without --file: give host n the address SUBNET.n/24 on eth0 (e.g. 10.0.0).")
        var subnet: String?

        @Flag(help: "Run every switch's hoistd in the background, then the file's exec lines.")
        var start = false

        func validate() throws {
            try LabCommand.checkName(name)
            if file != nil, hosts != nil || subnet != nil {
                throw ValidationError("give either --file or --hosts/--subnet, not both")
            }
            if let hosts, !(1...64).contains(hosts) { throw ValidationError("--hosts takes 1…64, not \(hosts)") }
            // A bad --subnet is a bad argument, like a bad --hosts: usage error (64).
            if file == nil, let problem = LabCommand.problem(hosts: hosts ?? 2, subnet: subnet) { throw ValidationError(problem) }
        }

        func run() throws {
            try LabCommand.requireRoot("up")
            do {
                var spec: LabSpec
                if let file {
                    guard let data = FileManager.default.contents(atPath: file) else { throw LabRunner.Failure("cannot read lab file \(file)") }
                    spec = try LabFile.parse(String(decoding: data, as: UTF8.self), file: file)
                } else {
                    spec = try LabSpec.oneSwitch(hosts: hosts ?? 2, subnet: subnet)
                }
                if start { spec.start = true }
                try LabRunner.up(try LabPlan(name: name, spec: spec), file: file)
            } catch let error as LabError {
                throw CommandFailure(error.description)
            } catch let error as LabRunner.Failure {
                throw CommandFailure(error.description)
            }
        }
    }

    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop lab NAME's processes and delete its namespaces (also after a crash)."
        )

        @Argument(help: "The lab's name.")
        var name: String

        @Flag(help: "Print each switch's hoistd log (with its --report, if the switch has `report`) before deleting it.")
        var logs = false

        func validate() throws { try LabCommand.checkName(name) }

        func run() throws {
            try LabCommand.requireRoot("down")
            do {
                let (processes, namespaces) = try LabRunner.down(name, printLogs: logs ? FileHandle.standardOutput : nil)
                print("lab \(name): \(processes) \(processes == 1 ? "process" : "processes") stopped, \(namespaces) namespaces deleted")
            } catch let error as LabRunner.Failure {
                throw CommandFailure(error.description)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List labs with their switches (running or not) and hosts.")

        func run() throws {
            for line in try LabRunner.list() { print(line) }
        }
    }
}

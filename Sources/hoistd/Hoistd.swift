import ArgumentParser
import ControlAPI
import Daemon
import EmulatedASIC
import EmulatedASICIO
import Foundation
import SwitchDriver
import SwitchModel

/// `hoistd`: the emulated whitebox switch. Runs the emulated chip on front-panel veths with
/// TAP host interfaces (`swp1`…) in a network namespace, and the control loop that
/// offloads what the kernel is configured to do onto it.
///
/// Today the chip runs embedded in this process; `hoist-asic` (the chip as its own process,
/// so hoistd can restart while it forwards) and the control socket come next.
@main
struct Hoistd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hoistd",
        abstract: "Run the emulated switch: chip on veth/TAP ports, offload control loop."
    )

    @Option(name: [.customShort("n"), .customLong("netns")], help: "Network namespace of the switch (default: this one).")
    var namespace: String?

    @Option(name: .customLong("wire-netns"),
            help: "Network namespace of the front-panel wires (default: --netns). Keep them out of the switch's namespace, or its kernel answers ARP on them.")
    var wireNamespace: String?

    @Option(name: .customLong("port"), parsing: .singleValue,
            help: "A front-panel port: N=WIRE binds chip port N to veth WIRE; its host interface is swpN.")
    var ports: [String] = []

    @Option(help: "Chip table profile: small or datacenter.")
    var profile: String = "small"

    @Option(help: "Stop after this many seconds (default: until SIGTERM or SIGINT).")
    var seconds: Double?

    @Option(help: "The control socket `hoist show` and `hoist why` talk to (mode 0660).")
    var socket: String = ControlProtocol.defaultSocketPath

    @Flag(help: "On exit, print every object's offload state and the table occupancy.")
    var report = false

    func validate() throws {
        guard TableProfile.all[profile] != nil else {
            throw ValidationError("unknown profile '\(profile)'; choose one of: \(TableProfile.all.keys.sorted().joined(separator: ", "))")
        }
        guard !ports.isEmpty else { throw ValidationError("give at least one --port N=WIRE") }
        _ = try bindings()
    }

    func bindings() throws -> [ChipPorts.Binding] {
        let limit = TableProfile.all[profile]?.ports ?? 0
        return try ports.map { spec in
            let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let n = UInt16(parts[0]), n >= 1, Int(n) <= limit, !parts[1].isEmpty else {
                throw ValidationError("--port takes N=WIRE with N in 1…\(limit), not '\(spec)'")
            }
            return ChipPorts.Binding(port: PortID(n), wire: parts[1])
        }
    }

    func run() throws {
        let asic = EmulatedASIC(profile: TableProfile.all[profile]!)
        let io = try ChipPorts(chip: asic.chip, bindings: try bindings(), wireNamespace: wireNamespace ?? namespace, hostNamespace: namespace)
        let daemon = try SwitchDaemon(namespace: namespace, driver: asic)
        daemon.onWriteBackFailure = { log("fdb write-back: \($0)") }
        try daemon.start()
        let query = OffloadQuery(daemon: daemon)
        let control = try ControlServer(path: socket) { query.handle($0) }
        log("running: \(io.bindings.count) ports, profile \(profile)\(namespace.map { ", netns \($0)" } ?? ""), control socket \(control.path)")
        Stop.install()
        let start = Date()
        var clock = DispatchTime.now().uptimeNanoseconds
        while !Stop.requested {
            if let seconds, Date().timeIntervalSince(start) >= seconds { break }
            try io.pollOnce(timeoutMilliseconds: 5)
            try daemon.step(timeoutMilliseconds: 0)
            control.serve()
            let changed = daemon.engine.takeChangedKeys()
            if control.hasWatchers, !changed.isEmpty { control.publish(query.changes(changed)) }
            // The chip's clock follows real time: ageing and trap policers run on it.
            let now = DispatchTime.now().uptimeNanoseconds
            asic.chip.advance(byNanoseconds: now - clock)
            clock = now
        }
        log("stopping: \(io.wireFrames) frames from the wire, \(io.hostFrames) from the host interfaces")
        if report { print(OffloadReport(daemon: daemon).text, terminator: "") }
    }
}

func log(_ message: String) {
    FileHandle.standardError.write(Data("hoistd: \(message)\n".utf8))
}

enum Stop {
    nonisolated(unsafe) static var requested = false
    static func install() {
        signal(SIGINT) { _ in Stop.requested = true }
        signal(SIGTERM) { _ in Stop.requested = true }
        // A parent may have started us with these blocked (its mask is inherited).
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}

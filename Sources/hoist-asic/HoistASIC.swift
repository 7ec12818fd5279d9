import ArgumentParser
import ChipLink
import EmulatedASIC
import EmulatedASICIO
import Foundation
import Logging
import ServiceSupport
import SwitchDriver

/// `hoist-asic`: the emulated switch chip as its own process, as silicon is to its driver.
/// It forwards between its front-panel veths, traps to the TAP host interfaces (`swp1`…)
/// and mirrors wire carrier to them, and serves the chip link on a unix socket for
/// `hoistd --asic`. It keeps forwarding while hoistd restarts; hoistd reads back and
/// repairs only the difference. The TAPs are persistent: they outlive this process with
/// their kernel configuration, and a restarted hoist-asic attaches to them (hoistd then
/// reprograms the empty chip).
@main
struct HoistASIC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hoist-asic",
        abstract: "Run the emulated switch chip on veth wires with TAP host interfaces, driven over the chip link.",
        version: HoistVersion.line("hoist-asic"),
    )

    @Option(name: [.customShort("n"), .customLong("netns")], help: "Network namespace of the host interfaces swpN (default: this one).")
    var namespace: String?

    @Option(name: .customLong("wire-netns"), help: "Network namespace of the front-panel wires (default: --netns).")
    var wireNamespace: String?

    @Option(name: .customLong("port"), parsing: .singleValue,
            help: "A front-panel port: N=WIRE binds chip port N to veth WIRE; its host interface is swpN.")
    var ports: [String] = []

    @Option(help: "Chip table profile: small or datacenter.")
    var profile: String = "small"

    @Option(help: "The chip-link socket hoistd connects to (mode 0660).")
    var socket: String = ChipLink.defaultSocketPath

    /// Reads `--config FILE` first, as hoistd does.
    static func main() { main(ServiceConfig.commandLine()) }

    @Option(help: "A configuration file of `option = value` lines, as the package's /etc/hoist/hoist-asic.conf; options given on the command line override it.")
    var config: String?

    @Option(parsing: .singleValue, help: "Shrink a table, as a fault: TABLE=N (e.g. lpm_ipv4=16).")
    var shrink: [String] = []

    @Option(help: "Stop after this many seconds (default: until SIGTERM or SIGINT).")
    var seconds: Double?

    @Option(name: .customLong("log-level"), help: "Log level: \(ServiceLogging.levels.joined(separator: ", ")) (default info, or HOIST_LOG_LEVEL).")
    var logLevel: String?

    var tableProfile: TableProfile { TableProfile.all[profile]! }

    func validate() throws {
        guard TableProfile.all[profile] != nil else {
            throw ValidationError("unknown profile '\(profile)'; choose one of: \(TableProfile.all.keys.sorted().joined(separator: ", "))")
        }
        guard !ports.isEmpty else { throw ValidationError("give at least one --port N=WIRE") }
        _ = try bindings()
        _ = try shrinks()
        if let logLevel, ServiceLogging.level(logLevel) == nil {
            throw ValidationError("unknown log level '\(logLevel)'; one of: \(ServiceLogging.levels.joined(separator: ", "))")
        }
    }

    func bindings() throws -> [ChipPorts.Binding] {
        try ports.map { spec in
            guard let b = ChipPorts.Binding.parse(spec, portLimit: tableProfile.ports) else {
                throw ValidationError("--port takes N=WIRE with N in 1…\(tableProfile.ports), not '\(spec)'")
            }
            return b
        }
    }

    func shrinks() throws -> [(TableKind, Int)] {
        try shrink.map { spec in
            let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let table = TableKind(rawValue: parts[0]), let n = Int(parts[1]), n >= 0 else {
                throw ValidationError("--shrink takes TABLE=N with TABLE one of \(TableKind.allCases.map(\.rawValue).joined(separator: ", ")), not '\(spec)'")
            }
            return (table, n)
        }
    }

    func run() throws {
        let logger = ServiceLogging.bootstrap(label: "hoist-asic", level: logLevel)
        let asic = EmulatedASIC(profile: tableProfile)
        for (table, n) in try shrinks() { asic.inject(.shrink(table, capacity: n)) }
        let io = try ChipPorts(chip: asic.chip, bindings: try bindings(), wireNamespace: wireNamespace ?? namespace, hostNamespace: namespace)
        io.log = { logger.warning("\($0)") }
        let link = try ChipLinkServer(path: socket, driver: asic)
        link.onConnectionError = { logger.warning("chip link: \($0)") }
        logger.info("running: \(io.bindings.count) ports, profile \(profile)\(namespace.map { ", netns \($0)" } ?? ""), chip link \(link.path)")
        StopSignal.install()
        // One loop: the ports' rings and TAPs, the chip link; timers for links and overflows.
        let loop = EventLoop()
        // The chip's clock follows real time (ageing, trap policers): advanced first in
        // each turn, so the frames of that turn see the time they arrived at.
        var clock = EventLoop.now()
        loop.add("clock", maxWait: { 100 }) {
            let now = EventLoop.now()
            asic.chip.advance(byNanoseconds: now - clock)
            clock = now
        }
        loop.add("ports", descriptors: { io.descriptors }, maxWait: { io.hasBacklog ? 0 : nil }) {
            try io.pollOnce(timeoutMilliseconds: 0)
        }
        var connections = 0
        loop.add("chip link", descriptors: { link.descriptors }) {
            link.serve()
            if link.connectionCount != connections {
                connections = link.connectionCount
                logger.info("chip link: \(connections) connection\(connections == 1 ? "" : "s")")
            }
        }
        var eventsLost = 0
        loop.every(0.1, "links") {
            for (port, up) in io.refreshLinks() { logger.info("\(port) link \(up ? "up" : "down")") }
            if asic.chip.eventOverflows != eventsLost {
                logger.warning("event queue full: \(asic.chip.eventOverflows - eventsLost) events lost; hoistd reconciles at its next poll")
                eventsLost = asic.chip.eventOverflows
            }
        }
        let start = EventLoop.now()
        try loop.run { StopSignal.requested || seconds.map { Double(EventLoop.now() - start) / 1e9 >= $0 } == true }
        let s = link.statistics
        logger.info("stopping: \(io.wireFrames) frames from the wire, \(io.hostFrames) from the host interfaces, \(s.sets) sets and \(s.removes) removes applied")
    }
}

import ArgumentParser
import ChipLink
import ControlAPI
import Daemon
import DaemonService
import EmulatedASIC
import EmulatedASICIO
import Foundation
import Logging
import ServiceSupport
import SRIOVDriver
import SwitchDriver
import SwitchdevDriver
import SwitchModel

/// `hoistd`: the control plane of the emulated whitebox switch. It mirrors the kernel of
/// the switch's namespace and offloads what `ip` and `bridge` configured onto the chip.
///
/// With `--asic SOCKET` the chip is a separate `hoist-asic` process reached over the chip
/// link, so hoistd can restart while the chip keeps forwarding; on start it reads the
/// chip back and repairs only the difference. When the chip process dies, hoistd stays up
/// with every object pending ("chip not connected"), reconnects, and reprograms the new
/// chip. Without it, hoistd embeds the chip and its
/// port I/O (`--port N=WIRE …`), for a one-process demo. With `--driver switchdev` it
/// drives the kernel switchdev ports of its namespace (rocker, netdevsim, mlxsw): the
/// kernel's driver programs them, and hoistd reports what the kernel flags as offloaded.
@main
struct Hoistd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hoistd",
        abstract: "Run the emulated switch: chip on veth/TAP ports, offload control loop.",
        version: HoistVersion.line("hoistd"),
    )

    /// Reads `--config FILE` (its options first, the command line's after, so a flag given
    /// overrides the file), then runs as usual.
    static func main() { main(ServiceConfig.commandLine()) }

    @Option(help: "A configuration file of `option = value` lines, as the package's /etc/hoist/hoistd.conf; options given on the command line override it. SIGHUP re-reads its log-level.")
    var config: String?

    @Option(name: [.customShort("n"), .customLong("netns")], help: "Network namespace of the switch (default: this one).")
    var namespace: String?

    @Option(name: .customLong("wire-netns"),
            help: "Network namespace of the front-panel wires (default: --netns). Keep them out of the switch's namespace, or its kernel answers ARP on them.")
    var wireNamespace: String?

    @Option(name: .customLong("port"), parsing: .singleValue,
            help: "A front-panel port of the embedded chip: N=WIRE binds chip port N to veth WIRE; its host interface is swpN.")
    var ports: [String] = []

    @Option(help: "Drive the chip of a `hoist-asic` process over its chip-link socket instead of embedding one.")
    var asic: String?

    @Option(help: "The driver: emulated (the emulated chip, embedded or --asic), switchdev (the kernel switchdev ports of --netns) or sriov (the SR-IOV NICs of --netns: VFs of PFs whose eswitch is in switchdev mode); no --port or --asic with the last two.")
    var driver: String = "emulated"

    @Option(name: .customLong("log-level"), help: "Log level: \(ServiceLogging.levels.joined(separator: ", ")) (default info, or HOIST_LOG_LEVEL).")
    var logLevel: String?

    @Option(help: "Chip table profile: small or datacenter.")
    var profile: String = "small"

    @Option(help: "Stop after this many seconds (default: until SIGTERM or SIGINT).")
    var seconds: Double?

    @Option(help: "The control socket `hoist show` and `hoist why` talk to (mode 0660; default /run/hoist/NETNS.sock with --netns, else HOIST_SOCKET, else \(ControlProtocol.defaultSocketPath)).")
    var socket: String?

    @Option(help: "Serve Prometheus metrics at http://ADDRESS:PORT/metrics (e.g. 127.0.0.1:9417; off by default). Bind a loopback address and let the scraper or a proxy reach it.")
    var metrics: String?

    @Option(name: .customLong("audit-interval"),
            help: "Seconds between the starts of two continuous audit passes (chip read-back against what hoistd programmed; drift is repaired); 0 turns it off (default 10 for the emulated chip, off for the observer drivers switchdev and sriov).")
    var auditInterval: Double?

    @Option(name: .customLong("audit-slice"), help: "Objects the continuous audit compares per loop iteration.")
    var auditSlice: Int = 4096

    @Flag(help: "On exit, print every object's offload state and the table occupancy.")
    var report = false

    func validate() throws {
        if let metrics {
            do { _ = try MetricsEndpoint.parse(metrics) } catch { throw ValidationError("\(error)") }
        }
        guard (auditInterval ?? 0) >= 0, auditSlice > 0 else { throw ValidationError("--audit-interval must be >= 0 and --audit-slice > 0") }
        if let logLevel, ServiceLogging.level(logLevel) == nil {
            throw ValidationError("unknown log level '\(logLevel)'; one of: \(ServiceLogging.levels.joined(separator: ", "))")
        }
        switch driver {
        case "emulated": break
        case "switchdev":
            guard ports.isEmpty, asic == nil, wireNamespace == nil else {
                throw ValidationError("--driver switchdev drives the switchdev ports of --netns: no --port, --wire-netns or --asic")
            }
            return
        case "sriov":
            guard ports.isEmpty, asic == nil, wireNamespace == nil else {
                throw ValidationError("--driver sriov drives the SR-IOV NICs of --netns: no --port, --wire-netns or --asic")
            }
            return
        default:
            throw ValidationError("unknown driver '\(driver)'; one of: emulated, switchdev, sriov")
        }
        if asic != nil {
            guard ports.isEmpty, wireNamespace == nil else {
                throw ValidationError("--port and --wire-netns belong to the chip: give them to hoist-asic, not with --asic")
            }
            return
        }
        guard TableProfile.all[profile] != nil else {
            throw ValidationError("unknown profile '\(profile)'; choose one of: \(TableProfile.all.keys.sorted().joined(separator: ", "))")
        }
        guard !ports.isEmpty else { throw ValidationError("give at least one --port N=WIRE, or --asic SOCKET") }
        _ = try bindings()
    }

    func bindings() throws -> [ChipPorts.Binding] {
        let limit = TableProfile.all[profile]?.ports ?? 0
        return try ports.map { spec in
            guard let b = ChipPorts.Binding.parse(spec, portLimit: limit) else {
                throw ValidationError("--port takes N=WIRE with N in 1…\(limit), not '\(spec)'")
            }
            return b
        }
    }

    func run() throws {
        let logger = ServiceLogging.bootstrap(label: "hoistd", level: logLevel)
        // The chip: embedded with its port I/O, or another process over the chip link.
        let driver: any SwitchDriver
        var embedded: (asic: EmulatedASIC, io: ChipPorts)?
        if self.driver == "switchdev" {
            let switchdev = try SwitchdevDriver(namespace: namespace)
            let names = switchdev.ports.ports.map { "\($0.id)=\($0.name)\($0.portName.map { " (\($0))" } ?? "")" }
            logger.info("switchdev ports: \(names.isEmpty ? "none" : names.joined(separator: ", "))")
            if let e = switchdev.lastError { logger.warning("\(e)") }
            driver = switchdev
        } else if self.driver == "sriov" {
            let sriov = try SRIOVDriver(namespace: namespace)
            let pfs = sriov.capabilities.ports.map { "\($0.id)=\($0.name)" }
            logger.info("SR-IOV PFs: \(pfs.isEmpty ? "none" : pfs.joined(separator: ", ")), \(sriov.capabilities.capacity(.vfs)) VFs")
            driver = sriov
        } else if let asic {
            let remote = try RemoteChipDriver(path: asic)
            logger.info("connected to the chip at \(asic): \(remote.capabilities.name), \(remote.capabilities.ports.count) ports")
            driver = remote
        } else {
            let chip = EmulatedASIC(profile: TableProfile.all[profile]!)
            let io = try ChipPorts(chip: chip.chip, bindings: try bindings(), wireNamespace: wireNamespace ?? namespace, hostNamespace: namespace)
            io.log = { logger.warning("\($0)") }
            embedded = (chip, io)
            driver = chip
        }
        let daemon = try SwitchDaemon(namespace: namespace, driver: driver)
        daemon.onWriteBackFailure = { logger.warning("\($0)") }
        daemon.auditSettings.interval = auditInterval ?? (self.driver == "emulated" ? 10 : 0)
        daemon.auditSettings.sliceBudget = auditSlice
        daemon.onAuditDrift = { logger.warning("\($0)") }
        if let asic, daemon.auditSettings.interval > 0 {
            // The continuous audit reads the chip back over a connection of its own, on
            // another thread, so the loop never waits for it.
            let reader = AuditConnection(try RemoteChipDriver(path: asic, controller: false))
            daemon.auditReader = { reader.readBack() }
        }
        daemon.onEventsLost = {
            logger.warning("the chip lost \($0) events (event queue overflow); reconciling learned MACs")
        }
        daemon.onLearnedReconciled = { logger.notice("learned MACs reconciled with the chip: \($0)") }
        daemon.onHealthChange = { logger.warning("\($0)") }
        // Nobody watches yet: the start's million changes are not noted (ControlService
        // turns this on while `hoist watch` clients are connected).
        daemon.engine.tracksChanges = false
        let summary = try daemon.start(listingDifferences: logger.logLevel <= .debug)
        if driver.capabilities.programsHardware {
            logger.info("reconciled with the chip: \(summary)")
            // One summary line; what was repaired, object by object, at debug (a restart
            // with a million objects would otherwise log a million lines).
            for d in summary.differing {
                logger.debug("repaired \(d.key): held \(d.held.map { "\($0)" } ?? "nothing"), wanted \(d.wanted.map { "\($0)" } ?? "nothing")")
            }
        } else {
            // An observer holds nothing of its own: what it accepts, the kernel's driver
            // already programmed; the kernel's flags tell the state.
            logger.info("observing the kernel's driver: \(summary.programmed) objects accepted; their states follow the kernel's offload flags")
        }
        let control = try ControlService(daemon: daemon, path: ControlProtocol.socketPath(explicit: socket, namespace: namespace))
        control.server.onDrop = { logger.warning("control socket: \($0)") }
        logger.info("running\(namespace.map { " in netns \($0)" } ?? ""), control socket \(control.server.path)")
        StopSignal.install()
        // One loop: the chip's ports (embedded), the kernel's notifications and the
        // driver's events, the control socket; timers for the chip's clock and links.
        let loop = EventLoop()
        if let embedded {
            // The embedded chip's clock follows real time (ageing, trap policers): advanced
            // first in each turn, so the frames of that turn see the time they arrived at.
            var clock = EventLoop.now()
            loop.add("clock") {
                let now = EventLoop.now()
                embedded.asic.chip.advance(byNanoseconds: now - clock)
                clock = now
            }
            loop.add("ports", descriptors: { embedded.io.descriptors }, maxWait: { embedded.io.hasBacklog ? 0 : nil }) {
                try embedded.io.pollOnce(timeoutMilliseconds: 0)
            }
        }
        loop.add("daemon", descriptors: { daemon.descriptors }, maxWait: { daemon.maxWaitMilliseconds }) {
            try daemon.step(timeoutMilliseconds: 0)
        }
        loop.add("control", descriptors: { control.server.descriptors }, maxWait: { control.server.maxWaitMilliseconds }) {
            control.serve()
        }
        if let metrics {
            let service = MetricsService(daemon: daemon)
            let endpoint = try MetricsEndpoint(address: metrics) { service.scrape() }
            logger.info("metrics: GET /metrics on \(metrics) (port \(endpoint.port))")
            loop.add("metrics", descriptors: { endpoint.descriptors }, maxWait: { endpoint.maxWaitMilliseconds }) {
                endpoint.serve()
            }
        }
        // SIGHUP: the configuration file's log level now; its other options at the next start.
        ReloadSignal.install()
        loop.add("reload") {
            guard ReloadSignal.take() else { return }
            guard let config else { return logger.info("SIGHUP: no --config file to re-read") }
            do {
                let words = try ServiceConfig.arguments(fromFile: config)
                let level = Array(zip(words, words.dropFirst())).last { $0.0 == "--log-level" }?.1 ?? logLevel ?? "info"
                guard let parsed = ServiceLogging.level(level) else { return logger.error("SIGHUP: \(config): unknown log level '\(level)'") }
                ServiceLogging.setLevel(parsed)
                logger.notice("SIGHUP: re-read \(config): log level \(parsed); other options apply at the next start")
            } catch {
                logger.error("SIGHUP: \(error); the running configuration stays")
            }
        }
        if let embedded {
            loop.every(0.1, "links") {
                for (port, up) in embedded.io.refreshLinks() { logger.info("\(port) link \(up ? "up" : "down")") }
            }
        }
        let start = EventLoop.now()
        try loop.run { StopSignal.requested || seconds.map { Double(EventLoop.now() - start) / 1e9 >= $0 } == true }
        if let embedded {
            logger.info("stopping: \(embedded.io.wireFrames) frames from the wire, \(embedded.io.hostFrames) from the host interfaces")
        } else {
            logger.info("stopping; the chip keeps forwarding")
        }
        if report { print(OffloadReport(daemon: daemon).text, terminator: "") }
    }
}

/// The continuous audit's own chip-link connection, used from one background read at a
/// time (`SwitchDaemon.auditReader`).
final class AuditConnection: @unchecked Sendable {
    let driver: RemoteChipDriver
    init(_ driver: RemoteChipDriver) { self.driver = driver }

    /// The chip's objects, or nil when the link failed (a restarted chip: connects again first).
    func readBack() -> [HardwareObject]? {
        if case .lost = driver.health, case .lost = driver.reconnect() { return nil }
        let objects = driver.readBack()
        return driver.linkFailure == nil ? objects : nil
    }
}

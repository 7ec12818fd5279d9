import ArgumentParser
import ServiceSupport

/// `hoist`: the operator's command line.
@main
struct Hoist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hoist",
        abstract: "Inspect what Hoist mirrors from the kernel and offloads to the switch.",
        version: HoistVersion.line("hoist"),
        subcommands: [MirrorCommand.self, ShowCommand.self, WhyCommand.self, WatchCommand.self, TopCommand.self, AuditCommand.self, LabCommand.self]
    )
}

/// A runtime failure (hoistd refused, is absent, a lab command failed): printed as
/// `Error: MESSAGE`, exit status 1, without the usage text that ArgumentParser adds to a
/// `ValidationError` (exit 64, for arguments that are wrong before anything runs).
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}

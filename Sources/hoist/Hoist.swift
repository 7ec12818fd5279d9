import ArgumentParser

/// `hoist`: the operator's command line.
@main
struct Hoist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hoist",
        abstract: "Inspect what Hoist mirrors from the kernel and offloads to the switch.",
        subcommands: [MirrorCommand.self, ShowCommand.self, WhyCommand.self, WatchCommand.self, AuditCommand.self, LabCommand.self]
    )
}

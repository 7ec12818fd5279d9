import Glibc
import Logging

/// SIGINT and SIGTERM ask a long-running command (hoistd, hoist-asic, `hoist watch`) to
/// stop after its current step.
public enum StopSignal {
    nonisolated(unsafe) public static var requested = false

    /// Installs the handlers and unblocks both signals: a parent may have started us with
    /// them blocked (the mask is inherited across exec).
    public static func install() {
        signal(SIGINT) { _ in StopSignal.requested = true }
        signal(SIGTERM) { _ in StopSignal.requested = true }
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}

/// Logging for Hoist's daemons, through swift-log: one `StreamLogHandler` on standard
/// error, level from `--log-level` or `HOIST_LOG_LEVEL` (default `info`).
public enum ServiceLogging {
    /// The level names `--log-level` accepts.
    public static let levels = Logger.Level.allCases.map(\.rawValue)

    /// Parses a level name, or nil.
    public static func level(_ name: String) -> Logger.Level? { Logger.Level(rawValue: name.lowercased()) }

    /// Sets up the process's log handler once and returns the logger for `label`.
    public static func bootstrap(label: String, level: String?) -> Logger {
        let chosen = level.flatMap(Self.level)
            ?? getenv("HOIST_LOG_LEVEL").flatMap { Self.level(String(cString: $0)) }
            ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = chosen
            return handler
        }
        return Logger(label: label)
    }
}

/// The version every Hoist executable prints for `--version`, and the Debian package's.
/// Semantic versioning; raised with each release (Docs/Operating.md).
public enum HoistVersion {
    public static let current = "0.2.0"
    /// `--version` output: `hoistd 0.2.0`.
    public static func line(_ program: String) -> String { "\(program) \(current)" }
}

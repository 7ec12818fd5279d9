import Glibc
import Logging
import SystemCall

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

/// SIGHUP asks a daemon to re-read its configuration file (hoistd: its log level).
public enum ReloadSignal {
    nonisolated(unsafe) public static var requested = false

    public static func install() {
        signal(SIGHUP) { _ in ReloadSignal.requested = true }
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGHUP)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Whether a reload was asked since the last call.
    public static func take() -> Bool {
        guard requested else { return false }
        requested = false
        return true
    }
}

/// Logging for Hoist's daemons, through swift-log: one `StreamLogHandler` on standard
/// error, level from `--log-level` or `HOIST_LOG_LEVEL` (default `info`).
public enum ServiceLogging {
    /// The level names `--log-level` accepts.
    public static let levels = Logger.Level.allCases.map(\.rawValue)

    /// Parses a level name, or nil.
    public static func level(_ name: String) -> Logger.Level? { Logger.Level(rawValue: name.lowercased()) }

    /// The level every logger of the process logs at; `setLevel` changes it while running
    /// (hoistd's SIGHUP re-reads it from its configuration).
    nonisolated(unsafe) static var current: Logger.Level = .info

    /// Sets up the process's log handler once and returns the logger for `label`.
    public static func bootstrap(label: String, level: String?) -> Logger {
        current = level.flatMap(Self.level)
            ?? getenv("HOIST_LOG_LEVEL").flatMap { Self.level(String(cString: $0)) }
            ?? .info
        LoggingSystem.bootstrap { label in LevelFollowingHandler(inner: StreamLogHandler.standardError(label: label)) }
        return Logger(label: label)
    }

    /// Changes the level of every logger of the process. Call it on the thread that logs
    /// (the loop's), as the loggers read it there.
    public static func setLevel(_ level: Logger.Level) { current = level }

    /// A stream handler whose level is the process's current one.
    struct LevelFollowingHandler: LogHandler {
        var inner: StreamLogHandler
        var logLevel: Logger.Level {
            get { ServiceLogging.current }
            set { ServiceLogging.current = newValue }
        }
        var metadata: Logger.Metadata {
            get { inner.metadata }
            set { inner.metadata = newValue }
        }
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { inner[metadataKey: key] }
            set { inner[metadataKey: key] = newValue }
        }
        func log(event: LogEvent) { inner.log(event: event) }
    }
}

/// A daemon's configuration file (`/etc/hoist/hoistd.conf`): one `option = value` per line
/// — a long option of its command line without the dashes (`netns = sw`, `port = 1=fp1`,
/// repeated for a repeating option; `report = true` for a flag) — `#` comments and blank
/// lines. The file's options come before the command line's, so a flag given on the command
/// line overrides the file's.
public enum ServiceConfig {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The command-line words the file at `path` stands for.
    public static func arguments(fromFile path: String) throws -> [String] {
        var text: [UInt8] = []
        do {
            let file = try FileDescriptor.open(path, .readOnly, options: .closeOnExec)
            defer { try? file.close() }
            var buffer = [UInt8](repeating: 0, count: 4096)
            while case let n = try buffer.withUnsafeMutableBytes({ try file.read(into: $0) }), n > 0 {
                text += buffer[0..<n]
                guard text.count <= 1 << 20 else { throw Failure(description: "\(path): larger than 1 MiB") }
            }
        } catch let e as Errno {
            throw Failure(description: "cannot read \(path): \(e)")
        }
        return try arguments(from: String(decoding: text, as: UTF8.self), file: path)
    }

    public static func arguments(from text: String, file: String) throws -> [String] {
        var out: [String] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let trimmed = line.trimmingBlanks
            if trimmed.isEmpty { continue }
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw Failure(description: "\(file):\(number + 1): expected `option = value`, not '\(trimmed)'")
            }
            let key = String(trimmed[..<eq]).trimmingBlanks
            let value = String(trimmed[trimmed.index(after: eq)...]).trimmingBlanks
            guard key.first?.isLetter == true, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
                throw Failure(description: "\(file):\(number + 1): '\(key)' is not an option name")
            }
            guard key != "config" else { throw Failure(description: "\(file):\(number + 1): a configuration file cannot name another") }
            switch value {
            case "true": out.append("--\(key)")
            case "false": continue
            default: out += ["--\(key)", value]
            }
        }
        return out
    }

    /// The process's arguments with its `--config FILE` expanded (`expand`); a file that
    /// cannot be read or parsed ends the process with the reason, exit 64 as for any bad
    /// argument.
    public static func commandLine() -> [String] {
        do {
            return try expand(Array(CommandLine.arguments.dropFirst()))
        } catch {
            let text = Array("Error: \(error)\n".utf8)
            _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            exit(64)
        }
    }

    /// `arguments` with the options of the `--config FILE` they name (if any) put first.
    public static func expand(_ arguments: [String]) throws -> [String] {
        guard let i = arguments.firstIndex(where: { $0 == "--config" || $0.hasPrefix("--config=") }) else { return arguments }
        let path: String
        if arguments[i].hasPrefix("--config=") {
            path = String(arguments[i].dropFirst("--config=".count))
        } else {
            guard i + 1 < arguments.count else { throw Failure(description: "--config takes a file") }
            path = arguments[i + 1]
        }
        return try Self.arguments(fromFile: path) + arguments
    }
}

extension String {
    /// Without leading and trailing blanks (spaces, tabs, carriage returns).
    var trimmingBlanks: String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        return String(self.drop(while: blank).reversed().drop(while: blank).reversed())
    }
}

/// The version every Hoist executable prints for `--version`, and the Debian package's.
/// Semantic versioning; raised with each release (Docs/Operating.md).
public enum HoistVersion {
    public static let current = "0.2.0"
    /// `--version` output: `hoistd 0.2.0`.
    public static func line(_ program: String) -> String { "\(program) \(current)" }
}

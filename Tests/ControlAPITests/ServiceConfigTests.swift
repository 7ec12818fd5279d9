import Testing
@testable import ServiceSupport

/// Daemon configuration files (`/etc/hoist/hoistd.conf`): `option = value` lines become the
/// command-line words they stand for, before the command line's own.
@Suite("Configuration files")
struct ServiceConfigTests {
    @Test("options, repeated options, flags, comments and blanks; the command line comes after the file")
    func words() throws {
        let text = """
            # hoistd
            driver = emulated
              port = 1=fp1   # a comment after a value
            port = 2=fp2

            report = true
            verbose = false
            metrics=127.0.0.1:9417
            """
        #expect(try ServiceConfig.arguments(from: text, file: "t.conf")
                == ["--driver", "emulated", "--port", "1=fp1", "--port", "2=fp2", "--report", "--metrics", "127.0.0.1:9417"])
    }

    @Test("a line without `=`, a bad option name or a nested --config is refused with its file and line")
    func refused() {
        for (text, message) in [("driver emulated", "t.conf:1: expected `option = value`"), ("\n--x = 1", "t.conf:2: '--x' is not an option name"),
                                ("config = other.conf", "t.conf:1: a configuration file cannot name another")] {
            #expect(throws: ServiceConfig.Failure.self) { try ServiceConfig.arguments(from: text, file: "t.conf") }
            do { _ = try ServiceConfig.arguments(from: text, file: "t.conf") } catch { #expect("\(error)".hasPrefix(message), "\(error)") }
        }
    }

    @Test("expand: no --config leaves the arguments; a missing file is an error naming it")
    func expand() {
        #expect((try? ServiceConfig.expand(["-n", "sw"])) == ["-n", "sw"])
        do {
            _ = try ServiceConfig.expand(["--config", "/nonexistent/hoistd.conf"])
            Issue.record("a missing file was accepted")
        } catch {
            #expect("\(error)".contains("cannot read /nonexistent/hoistd.conf"))
        }
    }
}

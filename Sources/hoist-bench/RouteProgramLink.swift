import ChipLink
import EmulatedASIC
import Foundation

/// `route-program-link`: a million routes programmed into a chip in another thread's
/// `ChipLinkServer` through `RemoteChipDriver` — hoistd's path to `hoist-asic`: encode,
/// unix socket, decode, apply, results back. The peer is the same routes applied to an
/// in-process chip in the same run; the ratio says what the chip link costs.
enum RouteProgramLink {
    static func run(routes: Int) throws {
        let direct = try PipelineBench.programRoutes(routes, into: EmulatedASIC(profile: .datacenter))
        let path = "/tmp/hoist-bench-chiplink-\(getpid()).sock"
        let chip = try BackgroundChipLink(path: path, driver: EmulatedASIC(profile: .datacenter))
        defer { chip.stop() }
        let remote = try RemoteChipDriver(path: path)
        let linked = try PipelineBench.programRoutes(routes, into: remote)
        let readStart = now()
        let readBack = remote.readBack().count
        let readSeconds = now() - readStart
        emit([("bench", "\"route-program-link\""), ("value", String(Int(linked))), ("unit", "\"routes/s\""),
              ("peer", "\"in-process chip\""), ("peer_value", String(Int(direct))), ("ratio", number(linked / direct)),
              ("routes", String(routes)), ("seconds", number(Double(routes) / linked)),
              ("read_back_objects", String(readBack)), ("read_back_seconds", number(readSeconds))])
    }
}

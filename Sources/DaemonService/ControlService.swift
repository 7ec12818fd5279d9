import ControlAPI
import Daemon

/// hoistd's control socket over a daemon: `hoist show` answers streamed from engine
/// snapshots by worker threads, `why`/`audit` answered on the loop, and `hoist watch`
/// fed with each round's changes (derived ones included).
public final class ControlService {
    public let server: ControlServer
    public let query: OffloadQuery
    let daemon: SwitchDaemon

    public init(daemon: SwitchDaemon, path: String, maxClients: Int = 256) throws {
        self.daemon = daemon
        let query = OffloadQuery(daemon: daemon)
        self.query = query
        server = try ControlServer(path: path, maxClients: maxClients) { query.handle($0) }
        server.streamer = { query.stream($0) }
        server.snapshot = { kind in
            query.changes(Set(daemon.engine.states().map(\.key))).filter { kind.isEmpty || $0.kind == kind }.map(\.object)
        }
    }

    /// Serves the control socket once (never blocks), then hands this round's offload-state
    /// changes to the watchers.
    public func serve() {
        server.serve()
        let changed = daemon.engine.takeChangedKeys(dependents: server.hasWatchers)
        if server.hasWatchers, !changed.isEmpty { server.publish(query.changes(changed)) }
        // A watcher that arrived in this `serve()` got a snapshot of now: from here on, its
        // changes are noted; with nobody watching, none are.
        daemon.engine.tracksChanges = server.hasWatchers
    }
}

import Foundation
import Glibc
import SwitchDriver

/// A `ChipLinkServer` served by a thread of its own until `stop()`: a chip process in a
/// test or a benchmark. (`hoist-asic` serves from its port I/O loop instead.) The driver is
/// touched only by that thread once serving starts.
public final class BackgroundChipLink: @unchecked Sendable {
    public let server: ChipLinkServer
    public var path: String { server.path }
    private let lock = NSLock()
    private var stopping = false
    private let done = DispatchSemaphore(value: 0)

    public init(path: String, driver: any SwitchDriver) throws {
        server = try ChipLinkServer(path: path, driver: driver)
        Thread.detachNewThread { [self] in
            // hoist-asic's loop runs favoured (`EventLoop.favourCallingThread`, nice −5).
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, -5)
            while !lock.withLock({ stopping }) {
                var fds = server.descriptors
                _ = poll(&fds, nfds_t(fds.count), 10)
                server.serve()
            }
            done.signal()
        }
    }

    /// Stops serving (open connections stay open but get no answers) and waits for the thread.
    public func stop() {
        lock.withLock { stopping = true }
        done.wait()
    }
}

import Glibc
import SystemCall

/// The one loop of a Hoist process (hoistd, hoist-asic): readiness-driven, on one thread.
/// Each turn it gathers the descriptors of its sources, sleeps in `poll(2)` until one is
/// ready or the earliest deadline — a timer, or the longest a source may wait
/// (`maxWait`: a mirror batch to flush, a chip to poll for events) — and then lets every
/// source do its non-blocking work and runs the timers that are due. Nothing else blocks:
/// a source's work must return promptly (as `SwitchDaemon.step(timeoutMilliseconds: 0)`,
/// `ControlServer.serve()`, `ChipLinkServer.serve()` and `ChipPorts.pollOnce` do), as in
/// swift-nio's selector loop, minus the futures.
public final class EventLoop {
    struct Source {
        var name: String
        var descriptors: () -> [pollfd]
        /// The longest this source may wait before its work runs again (nil: until ready).
        var maxWait: () -> Int32?
        var work: () throws -> Void
    }

    struct Timer {
        var name: String
        var interval: UInt64
        var due: UInt64
        var body: () throws -> Void
    }

    var sources: [Source] = []
    var timers: [Timer] = []
    /// The longest one turn sleeps, whatever the sources say.
    public let maxWaitMilliseconds: Int32
    /// Turns taken (tests, statistics).
    public private(set) var turns = 0

    public init(maxWaitMilliseconds: Int32 = 100) {
        self.maxWaitMilliseconds = maxWaitMilliseconds
    }

    /// Adds a source: `work` runs every turn, after the wait that its `descriptors` (read
    /// readiness, or what their `events` ask) and `maxWait` bound.
    public func add(_ name: String, descriptors: @escaping () -> [pollfd] = { [] }, maxWait: @escaping () -> Int32? = { nil },
                    work: @escaping () throws -> Void) {
        sources.append(Source(name: name, descriptors: descriptors, maxWait: maxWait, work: work))
    }

    /// Runs `body` every `seconds`, first one interval from now.
    public func every(_ seconds: Double, _ name: String, _ body: @escaping () throws -> Void) {
        let interval = UInt64(seconds * 1e9)
        timers.append(Timer(name: name, interval: interval, due: Self.now() + interval, body: body))
    }

    /// One turn: wait (at most `maxWaitMilliseconds`), then every source's work, then the
    /// timers that are due. Returns how many descriptors were ready.
    @discardableResult
    public func runOnce() throws -> Int {
        turns += 1
        var fds: [pollfd] = []
        var wait = maxWaitMilliseconds
        for s in sources {
            fds += s.descriptors()
            if let w = s.maxWait() { wait = min(wait, max(0, w)) }
        }
        let now = Self.now()
        for t in timers { wait = min(wait, Int32(clamping: t.due > now ? (t.due - now + 999_999) / 1_000_000 : 0)) }
        var ready: Int32 = 0
        if wait > 0 || !fds.isEmpty {
            // A signal ends the wait early (not retried: the sources run, the caller sees its flag).
            switch fds.withUnsafeMutableBufferPointer({ p in SystemCall.once { poll(p.baseAddress, nfds_t(p.count), wait) } }) {
            case .success(let n): ready = n
            case .failure(.interrupted): ready = 0
            case .failure(let e): throw EventLoopError(message: "poll: \(e)")
            }
        }
        for s in sources { try s.work() }
        let after = Self.now()
        for i in timers.indices where timers[i].due <= after {
            timers[i].due = after + timers[i].interval
            try timers[i].body()
        }
        return Int(max(ready, 0))
    }

    /// Turns until `stop` says so (checked before each turn), on a thread favoured by the
    /// scheduler (`favourCallingThread`).
    public func run(until stop: () -> Bool) throws {
        Self.favourCallingThread()
        while !stop() { try runOnce() }
    }

    /// Gives the calling thread nice −5 (`setpriority(PRIO_PROCESS, 0, …)` acts on one
    /// thread on Linux), so the loop that carries the kernel's changes to the chip wins
    /// the CPU over the threads that build big query answers (nice 10), dump snapshots or
    /// read back a chip, as their turns come on 2 cores. Best effort: without CAP_SYS_NICE
    /// the call fails and the thread keeps nice 0.
    public static func favourCallingThread() {
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, -5)
    }

    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

public struct EventLoopError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

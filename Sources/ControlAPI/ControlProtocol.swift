#if canImport(Glibc)
import Glibc
#endif
import Rendering

/// hoistd's control protocol, version 1: one JSON object per line each way over a unix
/// stream socket.
///
/// ```
/// → {"version":1,"command":"show","object":"routes"}
/// ← {"version":1,"ok":true,"objects":[{"object":"route 10.9.0.0/16","offload":"offloaded",…}]}
/// → {"version":1,"command":"why","object":"route 10.9.0.0/16"}
/// ← {"version":1,"ok":false,"error":"no object matches 'route 10.9.0.0/16'"}
/// → {"version":1,"command":"show","object":"routes","stream":true}
/// ← {"version":1,"ok":true,"stream":true}
/// ← {"object":"route 10.9.0.0/16","offload":"offloaded",…}
/// ← {"end":true,"objects":1}
/// ```
public enum ControlProtocol {
    public static let version: Int64 = 1
    /// Where hoistd listens unless told otherwise.
    public static let defaultSocketPath = "/run/hoist/hoistd.sock"
    /// The directory of hoistd's sockets (and the labs').
    public static let runDirectory = "/run/hoist"

    /// The socket of the hoistd of network namespace `namespace`: `/run/hoist/NS.sock`
    /// (a lab switch `LAB-SW` listens on `/run/hoist/LAB-SW.sock`).
    public static func socketPath(namespace: String) -> String { "\(runDirectory)/\(namespace).sock" }

    /// The control socket, by one rule for hoistd and hoist: `--socket` if given; else the
    /// namespace's (`-n NS`); else `HOIST_SOCKET` from the environment; else the default.
    public static func socketPath(explicit: String?, namespace: String?,
                                  environment: (String) -> String? = { getenv($0).map { String(cString: $0) } }) -> String {
        if let explicit { return explicit }
        if let namespace { return socketPath(namespace: namespace) }
        if let fromEnvironment = environment("HOIST_SOCKET"), !fromEnvironment.isEmpty { return fromEnvironment }
        return defaultSocketPath
    }
    /// The longest request line the server accepts.
    public static let maxRequestBytes = 64 << 10
}

/// One request.
public struct ControlRequest: Equatable, Sendable {
    public enum Command: String, Sendable, CaseIterable {
        case show, why
        /// Keep the connection open and receive one line per offload-state change of the
        /// objects `object` names (a `hoist show` kind, or "" for all).
        case watch
        /// Run one full audit (kernel ↔ hoistd ↔ chip) and answer with a summary object
        /// and one object per difference; `object` "repair" also repairs what differs.
        case audit
    }
    public var command: Command
    public var object: String
    /// `show`/`watch` only: objects whose prefix is exactly this one (routes), as
    /// `ip route show PREFIX`; nil for all.
    public var prefix: String?
    /// `show`/`watch` only: objects in this state (`offloaded`, `trapped`, `pending`,
    /// `failed`); nil for all.
    public var state: String?
    /// `show` only: routes of this VRF — its device name, a table id, or `main`/`default`
    /// (table 254), as `ip route show vrf NAME`; nil for every table.
    public var vrf: String?
    /// `show` only: answer as a stream (a header line, one object per line, an `end` line
    /// with the count) instead of one line holding every object.
    public var stream: Bool

    public static let states = ["offloaded", "trapped", "pending", "failed"]

    public init(command: Command, object: String, prefix: String? = nil, state: String? = nil, vrf: String? = nil, stream: Bool = false) {
        self.command = command
        self.object = object
        self.prefix = prefix
        self.state = state
        self.vrf = vrf
        self.stream = stream
    }

    public var json: JSONValue {
        var fields: [(String, JSONValue)] = [("version", .int(ControlProtocol.version)), ("command", .string(command.rawValue)),
                                             ("object", .string(object))]
        if let prefix { fields.append(("prefix", .string(prefix))) }
        if let state { fields.append(("state", .string(state))) }
        if let vrf { fields.append(("vrf", .string(vrf))) }
        if stream { fields.append(("stream", .bool(true))) }
        return .object(fields)
    }

    /// Decodes a request line; the error says what is wrong in words a client author can act on.
    public static func decode(_ line: String) throws -> ControlRequest {
        let value: JSONValue
        do { value = try JSONValue.parse(line) } catch { throw ControlError(message: "\(error)") }
        guard case .int(let version)? = value["version"] else { throw ControlError(message: "missing \"version\"") }
        guard version == ControlProtocol.version else {
            throw ControlError(message: "protocol version \(version) not supported; this hoistd speaks \(ControlProtocol.version)")
        }
        guard case .string(let c)? = value["command"], let command = Command(rawValue: c) else {
            throw ControlError(message: "\"command\" must be one of: \(Command.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard case .string(let object)? = value["object"] else { throw ControlError(message: "missing \"object\"") }
        var request = ControlRequest(command: command, object: object)
        if let p = value["prefix"] {
            guard case .string(let prefix) = p else { throw ControlError(message: "\"prefix\" must be a string") }
            request.prefix = prefix
        }
        if let s = value["state"] {
            guard case .string(let state) = s, states.contains(state) else {
                throw ControlError(message: "\"state\" must be one of: \(states.joined(separator: ", "))")
            }
            request.state = state
        }
        if let v = value["vrf"] {
            guard case .string(let vrf) = v else { throw ControlError(message: "\"vrf\" must be a string") }
            request.vrf = vrf
        }
        if let s = value["stream"] {
            guard case .bool(let stream) = s else { throw ControlError(message: "\"stream\" must be true or false") }
            request.stream = stream
        }
        return request
    }
}

/// One response: objects, or an error.
public enum ControlResponse: Equatable, Sendable {
    case objects([JSONValue])
    case error(String)
    /// The connection now streams changes, one object per line.
    case watching

    public var json: JSONValue {
        switch self {
        case .watching: .object([("version", .int(ControlProtocol.version)), ("ok", .bool(true)), ("watching", .bool(true))])
        case .objects(let o): .object([("version", .int(ControlProtocol.version)), ("ok", .bool(true)), ("objects", .array(o))])
        case .error(let e): .object([("version", .int(ControlProtocol.version)), ("ok", .bool(false)), ("error", .string(e))])
        }
    }

    /// The first line of a streamed answer; objects follow one per line, then
    /// `{"end":true,"objects":N}`.
    public static let streamHeader = JSONValue.object([("version", .int(ControlProtocol.version)), ("ok", .bool(true)), ("stream", .bool(true))])

    public static func decode(_ line: String) throws -> ControlResponse {
        let value: JSONValue
        do { value = try JSONValue.parse(line) } catch { throw ControlError(message: "hoistd answered with \(error)") }
        if case .bool(true)? = value["ok"], case .array(let objects)? = value["objects"] { return .objects(objects) }
        if case .bool(true)? = value["ok"], case .bool(true)? = value["watching"] { return .watching }
        if case .string(let e)? = value["error"] { return .error(e) }
        throw ControlError(message: "hoistd answered with an unknown shape")
    }
}

/// A control-protocol failure with a message a person can act on.
public struct ControlError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

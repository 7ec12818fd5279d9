import CJSON
import Foundation
import Rendering

/// `json-rows`: N route rows as hoistd streams them (`hoist show routes --json`): written
/// with Rendering's Swift writer (`JSONValue.write`, the streamed answer's path) against the
/// same rows built as json-c objects and written by `json_object_to_json_string_ext`
/// (plain, no slash escapes), same run; then every written row read back with json-c
/// (`JSONValue.parse`, what `hoist show` and the control socket read with). Value: rows/s
/// written; the ratio tells whether keeping the Swift writer is worth it (> 1: it is faster).
struct JSONRows {
    let rows: Int

    func run() throws {
        let values = (0..<rows).map { i -> JSONValue in
            var o = JSONObject()
            o["dst"] = .string("10.\((i >> 16) & 255).\((i >> 8) & 255).\(i & 255)/32")
            o["gateway"] = .string("10.1.0.\(2 + i % 200)")
            o["dev"] = .string("swp\(1 + i % 48)")
            o["protocol"] = .string("bgp")
            o["nhid"] = .int(Int64(100 + i % 64))
            o["table"] = .string("main")
            o["flags"] = .strings(["offload"])
            o["offload"] = .bool(true)
            o["state"] = .string("offloaded")
            return o.value
        }
        // Swift writer: one buffer per batch of rows, as the streamer fills a socket's buffer.
        var lines: [String] = []
        let swiftRate = bestRate(opsPerPass: rows) {
            var out: [UInt8] = []
            out.reserveCapacity(1 << 20)
            var total: UInt64 = 0
            for v in values {
                v.write(to: &out)
                out.append(0x0A)
                if out.count > (1 << 20) - 512 { total &+= UInt64(out.count); out.removeAll(keepingCapacity: true) }
            }
            return total &+ UInt64(out.count)
        }
        // json-c writer: the same rows as json-c objects, each written and freed.
        let peerRate = bestRate(opsPerPass: rows) {
            var total: UInt64 = 0
            for v in values {
                let object = Self.jsonC(v)
                total &+= UInt64(strlen(json_object_to_json_string_ext(object, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)))
                json_object_put(object)
            }
            return total
        }
        // Both writers agree byte for byte (json-c's plain form has no spaces either).
        for v in values.prefix(1000) {
            let object = Self.jsonC(v)
            let peerText = String(cString: json_object_to_json_string_ext(object, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE))
            json_object_put(object)
            guard peerText == v.text else { throw BenchError(message: "json-rows: json-c wrote \(peerText), Swift \(v.text)") }
            lines.append(v.text)
        }
        lines = values.map(\.text)
        var parsed = 0
        let parseSeconds = try timedThrowing {
            for line in lines where try JSONValue.parse(line)["state"] == .string("offloaded") { parsed += 1 }
        }
        guard parsed == rows else { throw BenchError(message: "json-rows: \(parsed) of \(rows) rows read back") }
        let parseRate = Double(rows) / parseSeconds

        FileHandle.standardError.write(Data("""
            json-rows: \(rows) route rows; Swift writer \(number(swiftRate / 1e6, 2)) M rows/s, json-c writer \
            \(number(peerRate / 1e6, 2)) M rows/s; json-c reader \(number(parseRate / 1e6, 2)) M rows/s\n
            """.utf8))
        emit([("bench", string("json-rows")), ("value", number(swiftRate / 1e6, 3)), ("unit", string("M rows/s written")),
              ("peer", string("json-c json_object_to_json_string_ext")), ("peer_value", number(peerRate / 1e6, 3)),
              ("ratio", number(swiftRate / peerRate, 2)), ("rows", "\(rows)"),
              ("read_rows_per_s", number(parseRate, 0))])
    }

    /// `value` as a json-c object (the caller puts it).
    static func jsonC(_ value: JSONValue) -> OpaquePointer? {
        switch value {
        case .null: return nil
        case .bool(let b): return json_object_new_boolean(b ? 1 : 0)
        case .int(let i): return json_object_new_int64(i)
        case .string(let s): return json_object_new_string_len(s, Int32(s.utf8.count))
        case .array(let items):
            let a = json_object_new_array_ext(Int32(items.count))
            for item in items { json_object_array_add(a, jsonC(item)) }
            return a
        case .object(let fields):
            let o = json_object_new_object()
            for (k, v) in fields { json_object_object_add(o, k, jsonC(v)) }
            return o
        }
    }
}

/// Seconds taken by a throwing `body`.
func timedThrowing(_ body: () throws -> Void) throws -> Double {
    let start = now()
    try body()
    return now() - start
}

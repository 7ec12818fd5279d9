import ControlAPI
import Rendering
import Testing

@Suite("Control protocol")
struct ControlProtocolTests {
    @Test("requests and responses round-trip through their JSON lines")
    func roundTrip() throws {
        let request = ControlRequest(command: .why, object: "route 10.9.0.0/16")
        #expect(try ControlRequest.decode(request.json.text) == request)
        let response = ControlResponse.objects([.object([("object", .string("port swp1")), ("offload", .string("offloaded"))])])
        #expect(try ControlResponse.decode(response.json.text) == response)
        #expect(try ControlResponse.decode(ControlResponse.error("nope").json.text) == .error("nope"))
    }

    @Test("bad requests get errors that say what is wrong", arguments: [
        ("garbage", "invalid JSON at byte 0"),
        ("{\"version\":1,\"command\":\"show\"", "invalid JSON"),
        ("{\"command\":\"show\",\"object\":\"ports\"}", "missing \"version\""),
        ("{\"version\":2,\"command\":\"show\",\"object\":\"ports\"}", "protocol version 2 not supported"),
        ("{\"version\":1,\"command\":\"drop\",\"object\":\"ports\"}", "\"command\" must be one of: show, why"),
        ("{\"version\":1,\"command\":\"show\"}", "missing \"object\""),
        ("[1,2]", "missing \"version\""),
    ])
    func badRequests(_ line: String, _ expected: String) {
        #expect(throws: ControlError.self) { try ControlRequest.decode(line) }
        do {
            _ = try ControlRequest.decode(line)
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
        }
    }

    @Test("the JSON reader handles escapes, nesting and rejects trailing data")
    func parser() throws {
        let v = try JSONValue.parse(#" {"a": [1, -2, true, false, null], "b": "x\"\n\u00e9"} "#)
        #expect(v["a"] == .array([.int(1), .int(-2), .bool(true), .bool(false), .null]))
        #expect(v["b"] == .string("x\"\né"))
        #expect(throws: JSONParseError.self) { try JSONValue.parse("{} {}") }
        #expect(throws: JSONParseError.self) { try JSONValue.parse(String(repeating: "[", count: 100)) }
        #expect(throws: JSONParseError.self) { try JSONValue.parse("\"unterminated") }
    }

    @Test("json-c reads strictly: field order kept, integers only, no trailing commas, depth bounded")
    func strictReader() throws {
        let v = try JSONValue.parse(#"{"z":1,"a":{"m":[],"b":"\u0000x"},"k":-9223372036854775808}"#)
        #expect(v == .object([("z", .int(1)), ("a", .object([("m", .array([])), ("b", .string("\u{0}x"))])), ("k", .int(.min))]))
        #expect(try JSONValue.parse(" 42 \n") == .int(42))
        #expect(try JSONValue.parse("9223372036854775807") == .int(.max))
        #expect(try JSONValue.parse("null") == .null)
        for bad in ["1.5", "1e3", "18446744073709551615", "[1,]", "{\"a\":1,}", "{\"a\":'x'}", "NaN", "[1] x", "", "   ", "tru", "{\"a\" 1}"] {
            #expect(throws: JSONParseError.self, "\(bad)") { try JSONValue.parse(bad) }
        }
        #expect(try JSONValue.parse(String(repeating: "[", count: 63) + String(repeating: "]", count: 63)) != .null)
        do {
            _ = try JSONValue.parse(#"{"a":[1,2,}"#)
            Issue.record("a trailing comma was accepted")
        } catch let error as JSONParseError {
            #expect(error.offset == 10, "\(error)")
        }
    }
}

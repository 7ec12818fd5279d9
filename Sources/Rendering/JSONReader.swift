import CJSON

/// Why a JSON document was refused: json-c's tokener error and the byte it stopped at.
public struct JSONParseError: Error, CustomStringConvertible, Equatable {
    public var offset: Int
    public var reason: String
    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

extension JSONValue {
    /// The deepest nesting a document may have (json-c's tokener depth).
    public static let maximumDepth: Int32 = 64

    /// Parses one JSON document (RFC 8259) with json-c's tokener in strict mode, at most
    /// ``maximumDepth`` deep: objects keep their field order; numbers must
    /// be integers that fit 64 bits (the control protocol has no others); whitespace may
    /// follow the document, anything else is an error. The reader for untrusted
    /// control-socket input and for rows hoistd streams. (json-c 0.16's strict mode still
    /// takes a single-quoted key and raw control characters in a string; no
    /// request means anything different by them.)
    public static func parse(_ text: String) throws -> JSONValue {
        guard let tokener = json_tokener_new_ex(maximumDepth) else { throw JSONParseError(offset: 0, reason: "out of memory") }
        defer { json_tokener_free(tokener) }
        json_tokener_set_flags(tokener, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS)
        var bytes = Array(text.utf8)
        let length = bytes.count
        // A NUL after the text ends a top-level number or literal the tokener would otherwise
        // wait on (json-c stops at the first complete value; what follows is checked below).
        bytes.append(0)
        let object = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { json_tokener_parse_ex(tokener, $0.baseAddress, Int32(length + 1)) }
        }
        let end = Int(json_tokener_get_parse_end(tokener))
        // json-c's null is a NULL object with status success.
        let status = json_tokener_get_error(tokener)
        guard object != nil || status == json_tokener_success else {
            let reason = status == json_tokener_continue ? "unexpected end" : String(cString: json_tokener_error_desc(status))
            throw JSONParseError(offset: min(end, length), reason: reason)
        }
        defer { json_object_put(object) }
        if let extra = bytes[min(end, length)..<length].firstIndex(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) {
            throw JSONParseError(offset: extra, reason: "unexpected data after the document")
        }
        return try JSONValue(object, end: end)
    }

    /// The value of a json-c object; `end` names the document's end in errors about numbers.
    init(_ object: OpaquePointer?, end: Int) throws {
        guard let object else { self = .null; return }
        switch json_object_get_type(object) {
        case json_type_null: self = .null
        case json_type_boolean: self = .bool(json_object_get_boolean(object) != 0)
        case json_type_int:
            let value = json_object_get_int64(object)
            // json-c keeps integers above Int64.max as unsigned and saturates the signed read.
            guard value != Int64.max || json_object_get_uint64(object) == UInt64(Int64.max) else {
                throw JSONParseError(offset: end, reason: "an integer beyond 64 bits")
            }
            self = .int(value)
        case json_type_double: throw JSONParseError(offset: end, reason: "a number that is not an integer")
        case json_type_string:
            let count = Int(json_object_get_string_len(object))
            let chars = json_object_get_string(object)
            self = .string(chars.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: count), as: UTF8.self) } ?? "")
        case json_type_array:
            let count = json_object_array_length(object)
            var items: [JSONValue] = []
            items.reserveCapacity(count)
            for i in 0..<count { items.append(try JSONValue(json_object_array_get_idx(object, i), end: end)) }
            self = .array(items)
        case json_type_object:
            var fields: [(String, JSONValue)] = []
            var it = json_object_iter_begin(object)
            var last = json_object_iter_end(object)
            while json_object_iter_equal(&it, &last) == 0 {
                fields.append((String(cString: json_object_iter_peek_name(&it)), try JSONValue(json_object_iter_peek_value(&it), end: end)))
                json_object_iter_next(&it)
            }
            self = .object(fields)
        default: throw JSONParseError(offset: end, reason: "an unknown json-c type")
        }
    }
}

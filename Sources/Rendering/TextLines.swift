/// Plain-text rendering for people: one line per object, fields as `name value` pairs in
/// iproute2's order (the same fields the JSON carries), nested objects flattened.
public enum TextLines {
    public static func line(_ value: JSONValue) -> String {
        var parts: [String] = []
        flatten(value, into: &parts)
        return parts.joined(separator: " ")
    }

    static func flatten(_ value: JSONValue, into parts: inout [String]) {
        switch value {
        case .object(let fields):
            for (k, v) in fields {
                switch v {
                case .object: flatten(v, into: &parts)
                case .array(let items) where items.isEmpty: continue
                case .array(let items):
                    if case .object = items.first {
                        parts.append(k)
                        for item in items { parts.append("[" + line(item) + "]") }
                    } else {
                        parts.append(k + " " + items.map(scalar).joined(separator: ","))
                    }
                case .null: parts.append(k)
                default: parts.append(k + " " + scalar(v))
                }
            }
        default:
            parts.append(scalar(value))
        }
    }

    public static func scalar(_ v: JSONValue) -> String {
        switch v {
        case .null: ""
        case .bool(let b): b ? "on" : "off"
        case .int(let i): String(i)
        case .string(let s): s
        default: line(v)
        }
    }

    /// Every table of a rendered mirror, with a heading and a count per table.
    public static func tables(_ rendered: JSONValue) -> String {
        guard case .object(let tables) = rendered else { return line(rendered) }
        var out = ""
        for (name, list) in tables {
            guard case .array(let items) = list else { continue }
            out += "\(name) (\(items.count))\n"
            for item in items { out += "  " + line(item) + "\n" }
        }
        return out
    }
}

import SwitchDriver
import SwitchModel

extension HardwareKey {
    /// A total order on keys: dependency rank first (bridges, ports, members, … routes),
    /// then the key's own fields. Stages sort the keys of one topology change with it so
    /// their output does not depend on hash order.
    static func stageOrder(_ a: HardwareKey, _ b: HardwareKey) -> Bool {
        a.orderFields < b.orderFields
    }

    private var orderFields: OrderFields {
        func ip(_ a: IPAddress) -> (UInt64, UInt64) { (a.high, a.low) }
        switch self {
        case .bridge(let b): return OrderFields(rank, 0, UInt64(b.rawValue))
        case .port(let p), .lag(let p): return OrderFields(rank, 0, UInt64(p.rawValue))
        case .acl(let p): return OrderFields(rank, 4, UInt64(p.rawValue))
        case .vlanMember(let b, let p, let vid):
            return OrderFields(rank, 0, UInt64(b.rawValue), UInt64(p.rawValue), UInt64(vid.rawValue))
        case .routerInterface(let r): return OrderFields(rank, 1, UInt64(r.rawValue))
        case .vxlanTunnel(let vni): return OrderFields(rank, 2, UInt64(vni))
        case .vf(let pf, let index): return OrderFields(rank, 3, UInt64(pf.rawValue), UInt64(index))
        case .fdb(let b, let vid, let mac): return OrderFields(rank, 0, UInt64(b.rawValue), UInt64(vid.rawValue), mac.rawValue)
        case .mdb(let b, let vid, let group):
            let g: (UInt64, UInt64) = switch group {
            case .ip(let a): ip(a)
            case .mac(let m): (UInt64.max, m.rawValue)
            }
            return OrderFields(rank, 1, UInt64(b.rawValue) << 16 | UInt64(vid.rawValue), g.0, g.1)
        case .neighbor(let r, let a): return OrderFields(rank, 2, UInt64(r.rawValue), ip(a).0, ip(a).1)
        case .vxlanFlood(let vni, let r): return OrderFields(rank, 3, UInt64(vni), ip(r).0, ip(r).1)
        case .nexthop(let nh): return OrderFields(rank, 0, ip(nh.gateway).0, ip(nh.gateway).1, UInt64(nh.rif.rawValue))
        case .nexthopGroup(let g): return OrderFields(rank, 0, UInt64(g.rawValue))
        case .route(let vrf, let p):
            return OrderFields(rank, 0, UInt64(vrf), ip(p.address).0, ip(p.address).1, UInt64(p.length))
        }
    }
}

/// The fields of a key in comparison order.
private struct OrderFields: Comparable {
    var head: (Int, Int)
    var fields: (UInt64, UInt64, UInt64, UInt64)

    init(_ rank: Int, _ kind: Int, _ a: UInt64, _ b: UInt64 = 0, _ c: UInt64 = 0, _ d: UInt64 = 0) {
        head = (rank, kind)
        fields = (a, b, c, d)
    }

    static func < (x: OrderFields, y: OrderFields) -> Bool {
        x.head != y.head ? x.head < y.head : x.fields < y.fields
    }

    static func == (x: OrderFields, y: OrderFields) -> Bool { x.head == y.head && x.fields == y.fields }
}

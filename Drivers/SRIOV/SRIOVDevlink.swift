#if canImport(Glibc)
import Glibc
#endif
import Netlink

/// devlink for the SR-IOV driver — the eswitch mode, the ports (which netdev is a PF, which
/// representor is which VF) and the VF rate objects — over generic netlink through
/// ``DevlinkChannel`` (in the driver's namespace), in the driver's terms: handles as
/// iproute2 writes them (`netdevsim/netdevsim11/128`) and rates in Mbit/s.
final class SRIOVDevlink {
    let channel: DevlinkChannel

    init(namespace: String?) throws {
        channel = try DevlinkChannel(namespace: namespace)
    }

    /// A devlink port: `DEV/INDEX`, its flavour (iproute2's word), netdev and VF number.
    struct Port: Equatable {
        var handle: String
        var device: String
        var flavour: String
        var netdev: String?
        var vf: UInt32?
    }

    /// A devlink request the kernel refused: its extack text (`netdevsim: …`) or errno text.
    struct Failure: Error, CustomStringConvertible {
        var message: String
        /// The kernel refused with `EOPNOTSUPP`.
        var notSupported: Bool
        var description: String { message }

        init(_ error: Error) {
            if let e = error as? NetlinkError {
                message = e.message.flatMap { $0.isEmpty ? nil : $0 } ?? String(cString: strerror(e.code))
                notSupported = e.code == EOPNOTSUPP
            } else {
                message = "\(error)"
                notSupported = false
            }
        }
    }

    /// `DEVLINK_CMD_PORT_GET` dump, by device then port index.
    func ports() throws -> [Port] {
        try channel.ports()
            .sorted { ($0.device, $0.index) < ($1.device, $1.index) }
            .map { Port(handle: $0.handle, device: $0.device.description, flavour: $0.flavour.description,
                        netdev: $0.netdevName, vf: $0.vfNumber.map(UInt32.init)) }
    }

    /// `DEVLINK_CMD_ESWITCH_GET`: `legacy`, `switchdev`; nil when the device has no eswitch.
    func eswitchMode(_ device: String) -> String? {
        guard let d = DevlinkDevice(device), let mode = try? channel.eswitchMode(of: d) else { return nil }
        return mode.description
    }

    /// `DEVLINK_CMD_RATE_GET` dump: per leaf (`DEV/INDEX`), tx_share and tx_max in Mbit/s.
    func rates() throws -> [String: (share: UInt32, max: UInt32)] {
        var out: [String: (UInt32, UInt32)] = [:]
        for r in try channel.rates() {
            guard case .leaf = r.kind else { continue }
            out[r.handle] = (Self.mbit(r.txShare), Self.mbit(r.txMax))
        }
        return out
    }

    /// `DEVLINK_CMD_RATE_SET` of `DEV/INDEX`: tx_share and tx_max given in Mbit/s.
    /// - Throws: ``Failure`` with the kernel's words.
    func setRate(_ handle: String, share: UInt32, max: UInt32) throws {
        guard let port = DevlinkPortAddress(handle) else {
            throw Failure(NetlinkError(code: EINVAL, message: "not a devlink port: \(handle)", operation: "devlink rate set"))
        }
        do {
            try channel.setRate(port, txShare: UInt64(share) * DevlinkRate.bytesPerMbit,
                                txMax: UInt64(max) * DevlinkRate.bytesPerMbit)
        } catch {
            throw Failure(error)
        }
    }

    /// Bytes per second → Mbit/s (1 Mbit/s is 125,000 B/s).
    static func mbit(_ bytesPerSecond: UInt64) -> UInt32 {
        UInt32(clamping: bytesPerSecond / DevlinkRate.bytesPerMbit)
    }
}

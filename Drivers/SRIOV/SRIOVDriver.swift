#if canImport(Glibc)
import Glibc
#endif
import Netlink
import SwitchDriver
import SwitchModel

/// The driver of an SR-IOV NIC whose eswitch is in switchdev mode: its ports are the
/// physical functions (PFs), and its objects the PFs' virtual functions (`.vf`).
///
/// ```
///   engine ──apply(.vf)──► SRIOVDriver ──RTM_SETLINK (IFLA_VFINFO_LIST, one knob each)──► PF's driver
///                               │      ──DEVLINK_CMD_RATE_SET (tx_share, tx_max)─► VF representor
///                               └──◄── RTM_GETLINK (RTEXT_FILTER_VF) + DEVLINK_CMD_RATE_GET: read back
/// ```
///
/// The operator configures VFs with `ip link set PF vf N …` and `devlink port function
/// rate set`; the kernel holds that configuration, the mirror reads it and the SRIOV stage
/// turns it into `.vf` objects. `apply` writes each object's settings to the NIC, reads
/// them back and answers `ok` — or the NIC's refusal in its own words. In legacy eswitch
/// mode VFs are `notSupported` (there are no representors and no devlink rates). The PF
/// itself is a `.port` the kernel already configures; bridges, routes and the rest of the
/// switch vocabulary are `notSupported`.
public final class SRIOVDriver: SwitchDriver {
    /// A physical function: its netdev and its eswitch's devlink device and VF representors.
    struct PF {
        var name: String
        var device: String
        /// Devlink port handle (`netdevsim/netdevsim11/128`) of each VF's representor.
        var representors: [UInt32: String]
    }

    public let capabilities: DriverCapabilities
    let pfs: [PortID: PF]
    let channel: NetlinkChannel
    let devlink: SRIOVDevlink

    /// Finds the PFs: netdevs of devlink `physical` ports whose device has an eswitch
    /// (`DEVLINK_CMD_ESWITCH_GET` answers), in either mode — a PF in legacy mode is a
    /// port whose VFs are not supported. VF capacity is the PFs' VF count now.
    public init(namespace: String? = nil) throws {
        channel = try NetlinkChannel(namespace: namespace)
        devlink = try SRIOVDevlink(namespace: namespace)
        let ports = try devlink.ports()
        var found: [PortID: PF] = [:]
        var capPorts: [DriverCapabilities.Port] = []
        var modes: [String: String?] = [:]
        for p in ports where p.flavour == "physical" {
            guard let netdev = p.netdev else { continue }
            if modes[p.device] == nil { modes[p.device] = .some(devlink.eswitchMode(p.device)) }
            guard modes[p.device]! != nil else { continue }
            let reps = ports.filter { $0.device == p.device && $0.flavour == "pcivf" }
                .reduce(into: [UInt32: String]()) { m, r in if let vf = r.vf { m[vf] = r.handle } }
            let id = PortID(UInt16(found.count + 1))
            found[id] = PF(name: netdev, device: p.device, representors: reps)
            capPorts.append(.init(id: id, name: netdev))
        }
        pfs = found
        var vfCount = 0
        for pf in found.values { vfCount += (try? Self.link(named: pf.name, channel: channel))?.vfs?.count ?? 0 }
        capabilities = DriverCapabilities(name: "sriov", ports: capPorts, tables: [.vfs: vfCount], features: [.sriov],
                                          maxECMPWidth: 1, maxBridges: 0)
    }

    // MARK: SwitchDriver

    public func apply(_ batch: [DriverOperation]) -> [DriverResult] {
        var modes: [String: String?] = [:]
        return batch.map { op in
            switch op {
            case .set(.port(let p)):
                guard pfs[p.port] != nil else { return .invalid("no PF \(p.port)") }
                return p.bridge == nil ? .ok : .notSupported("an SR-IOV NIC does not offload bridges")
            case .set(.vf(let v)):
                guard let pf = pfs[v.pf] else { return .invalid("no PF \(v.pf)") }
                if modes[pf.device] == nil { modes[pf.device] = .some(devlink.eswitchMode(pf.device)) }
                return setVF(v, on: pf, mode: modes[pf.device]!)
            case .set(let o):
                return .notSupported("an SR-IOV NIC does not offload \(o.key)")
            case .remove(.port(let p)):
                return pfs[p] == nil ? .invalid("no PF \(p)") : .ok
            case .remove:
                // A VF's settings go with the VF (sriov_numvfs); nothing else is ever held.
                return .ok
            }
        }
    }

    public func readBack() -> [HardwareObject] {
        var out: [HardwareObject] = []
        let rates = (try? devlink.rates()) ?? [:]
        for (id, pf) in pfs.sorted(by: { $0.key < $1.key }) {
            guard let link = try? Self.link(named: pf.name, channel: channel) else { continue }
            out.append(.port(PortSettings(port: id, adminUp: link.adminUp, mtu: link.mtu, learning: false)))
            guard devlink.eswitchMode(pf.device) == "switchdev" else { continue }
            for vf in link.vfs ?? [] { out.append(.vf(VFSettings(pf: id, info: Self.withRates(vf, pf, rates)))) }
        }
        return out
    }

    public func pollEvents(limit: Int) -> [DriverEvent] { [] }

    /// The VF table's occupancy. Per-VF packet counters (`IFLA_VF_STATS`) exist only on
    /// NICs with `ndo_get_vf_stats`; netdevsim has none.
    public func counters() -> DriverCounters {
        let used = readBack().filter { if case .vf = $0 { true } else { false } }.count
        return DriverCounters(tables: [.vfs: TableOccupancy(used: used, capacity: capabilities.capacity(.vfs))])
    }

    // MARK: VFs

    private func setVF(_ v: VFSettings, on pf: PF, mode: String?) -> DriverResult {
        guard mode == "switchdev" else {
            return .notSupported(mode == "legacy" ? "eswitch in legacy mode" : "\(pf.device) has no eswitch")
        }
        let link: Link
        do { link = try Self.link(named: pf.name, channel: channel) } catch { return .hardwareFailure("\(pf.name): \(error)") }
        guard link.vfs?.contains(where: { $0.index == v.index }) == true else {
            return .hardwareFailure("\(pf.name) has no VF \(v.index) (\(link.vfs?.count ?? 0) VFs)")
        }
        for knob in [VFKnob.mac, .vlan, .spoofchk, .trust, .state] {
            do {
                try channel.request(KernelRequest.setVF(pf: link.index, v.info, knob))
            } catch let e as NetlinkError {
                let why = "\(knob): \(e.message ?? String(cString: strerror(e.code)))"
                return e.code == EOPNOTSUPP ? .notSupported(why) : .hardwareFailure(why)
            } catch {
                return .hardwareFailure("\(knob): \(error)")
            }
        }
        // In switchdev mode the eswitch limits a VF's rate on its representor's devlink rate
        // object; the legacy IFLA_VF_RATE is refused there.
        guard let rep = pf.representors[v.index] else { return .hardwareFailure("VF \(v.index) of \(pf.name) has no representor") }
        do {
            try devlink.setRate(rep, share: v.info.minTxRate, max: v.info.maxTxRate)
        } catch let f as SRIOVDevlink.Failure {
            return f.notSupported ? .notSupported("rate: \(f.message)") : .hardwareFailure("rate: \(f.message)")
        } catch {
            return .hardwareFailure("rate: \(error)")
        }
        // Read back: the NIC must now report exactly what was asked.
        guard let after = try? Self.link(named: pf.name, channel: channel),
              let vf = after.vfs?.first(where: { $0.index == v.index }) else { return .hardwareFailure("VF \(v.index) of \(pf.name) vanished") }
        let held = VFSettings(pf: v.pf, info: Self.withRates(vf, pf, (try? devlink.rates()) ?? [:]))
        return held == v ? .ok : .hardwareFailure("the NIC reports \(held.settingsDescription)")
    }

    /// The VF with the rates its representor's devlink rate object enforces (in switchdev
    /// mode the eswitch's word, not `IFLA_VF_RATE`).
    static func withRates(_ vf: VFInfo, _ pf: PF, _ rates: [String: (share: UInt32, max: UInt32)]) -> VFInfo {
        var vf = vf
        let r = pf.representors[vf.index].flatMap { rates[$0] }
        vf.minTxRate = r?.share ?? 0
        vf.maxTxRate = r?.max ?? 0
        return vf
    }

    /// The PF's link with its VFs (`RTM_GETLINK`, `RTEXT_FILTER_VF`).
    static func link(named name: String, channel: NetlinkChannel) throws -> Link {
        var found: Link?
        try channel.get(KernelRequest.getLink(named: name)) { if case .newLink(let l) = $0 { found = l } }
        guard let found else { throw NetlinkError(code: ENODEV, message: "no answer for \(name)", operation: "get link") }
        return found
    }
}

// swift-tools-version:6.0
import PackageDescription

// Dependency rule (see README and Docs/Architecture.md):
//   SwitchModel imports nothing of ours.
//   Netlink is the only module that touches libnl (through CNetlink) or netlink sockets
//   (rtnetlink, and generic netlink for devlink).
//   KernelMirror turns Netlink's decoded objects into model deltas; it imports no C.
//   Rendering turns model objects into iproute2-style JSON and text and reads JSON with
//   json-c (through CJSON); no I/O.
//   SwitchDriver is the narrow driver protocol and the hardware object vocabulary.
//   Stages (pure, no I/O) map model deltas to desired hardware objects; they never import drivers.
//   Offload (the engine) programs any SwitchDriver; it never imports a concrete driver.
//   Drivers (EmulatedASIC, …) implement SwitchDriver; they never import stages or the engine.
//   SwitchdevDriver observes kernel switchdev ports (the kernel's driver programs the ASIC):
//   it watches the kernel through KernelMirror/Netlink and reads devlink resources through Netlink's DevlinkChannel.
//   SRIOVDriver drives an SR-IOV NIC's eswitch (switchdev mode): VF settings through Netlink
//   (RTM_SETLINK IFLA_VFINFO_LIST), VF rates through Netlink's DevlinkChannel; no stages, no engine.
//   EmulatedASICIO is the chip's packet I/O (AF_PACKET on veth wires, TAP host interfaces),
//   through the CPacketIO shim; the chip's forwarding core stays pure.
//   Daemon wires mirror → stages → engine → any SwitchDriver and writes hardware-learned
//   MACs back to the kernel; it chooses no concrete driver (the executables do).
//   DaemonService serves a daemon's control socket (queries from engine snapshots, streamed
//   by worker threads; watches) and its Prometheus metrics endpoint; it chooses no concrete driver either.
//   ChipLink is the chip link: the driver protocol over a unix socket (binary codec, server
//   for any SwitchDriver, RemoteChipDriver client), so the chip runs in its own process.
//   Lab (pure) parses and validates lab files and names and plans a lab's pieces; the hoist
//   executable runs the plan.
//   Difftest (pure) parses differential-test scenarios and compares received frames; the
//   hoist-difftest executable builds both worlds (kernel reference, emulated switch) and probes them.
//   UnixSocket and ServiceSupport (signals, swift-log setup, the one event loop) are plumbing for the processes;
//   SystemCall is the one system-call helper (EINTR retried, swift-system's Errno) below them all.
//   Executables (hoist, hoistd, hoist-asic, hoist-bench, hoist-conformance) are the only places that wire concrete pieces.
let package = Package(
    name: "Hoist",
    products: [
        .executable(name: "hoist", targets: ["hoist"]),
        .executable(name: "hoist-bench", targets: ["hoist-bench"]),
        .executable(name: "hoistd", targets: ["hoistd"]),
        .executable(name: "hoist-asic", targets: ["hoist-asic"]),
        .executable(name: "hoist-difftest", targets: ["hoist-difftest"]),
        .library(name: "SwitchModel", targets: ["SwitchModel"]),
        .library(name: "Netlink", targets: ["Netlink"]),
        .library(name: "KernelMirror", targets: ["KernelMirror"]),
        .library(name: "SwitchDriver", targets: ["SwitchDriver"]),
        .library(name: "Stages", targets: ["Stages"]),
        .library(name: "Offload", targets: ["Offload"]),
        .library(name: "EmulatedASIC", targets: ["EmulatedASIC"]),
        .library(name: "DriverConformance", targets: ["DriverConformance"]),
        .library(name: "SwitchdevDriver", targets: ["SwitchdevDriver"]),
        .library(name: "SRIOVDriver", targets: ["SRIOVDriver"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // Errno and FileDescriptor: the one system-call helper (SystemCall) and its error type.
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        // hoistd's Prometheus metrics (`--metrics`): the exposition and its swift-metrics types.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CNetlink",
            path: "Sources/CNetlink",
            // One pkg-config name per target: libnl-route-3.0 gives -I/usr/include/libnl3, which
            // libnl-genl-3.0 shares; the module map links nl-3, nl-route-3 and nl-genl-3.
            pkgConfig: "libnl-route-3.0",
            providers: [.apt(["libnl-3-dev", "libnl-route-3-dev", "libnl-genl-3-dev"])]
        ),
        .target(name: "SwitchModel"),
        .target(name: "Netlink", dependencies: ["CNetlink", "SwitchModel", "SystemCall"]),
        .target(name: "KernelMirror", dependencies: ["Netlink", "SwitchModel"]),
        .systemLibrary(
            name: "CJSON",
            path: "Sources/CJSON",
            pkgConfig: "json-c",
            providers: [.apt(["libjson-c-dev"])]
        ),
        .target(name: "Rendering", dependencies: ["CJSON", "KernelMirror", "SwitchModel"]),
        .target(name: "SwitchDriver", dependencies: ["SwitchModel"]),
        .target(name: "Stages", dependencies: ["SwitchDriver", "SwitchModel"]),
        .target(name: "Offload", dependencies: ["Stages", "SwitchDriver", "SwitchModel"]),
        .target(
            name: "EmulatedASIC", dependencies: ["SwitchDriver", "SwitchModel"], path: "Drivers/EmulatedASIC",
            // The forwarding core's tables are class properties read per frame; the dynamic
            // exclusivity checks cost ~20 % of the L2 pipeline. Release builds only.
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        .target(
            name: "SwitchdevDriver", dependencies: ["KernelMirror", "Netlink", "SwitchDriver", "SwitchModel"],
            path: "Drivers/Switchdev"
        ),
        .target(name: "SRIOVDriver", dependencies: ["Netlink", "SwitchDriver", "SwitchModel"], path: "Drivers/SRIOV"),
        .target(name: "CPacketIO", path: "Sources/CPacketIO"),
        .target(name: "SystemCall", dependencies: [.product(name: "SystemPackage", package: "swift-system")]),
        .target(name: "UnixSocket", dependencies: ["SystemCall"]),
        .target(name: "ServiceSupport", dependencies: ["SystemCall", .product(name: "Logging", package: "swift-log")]),
        .target(name: "ControlAPI", dependencies: ["Rendering", "SystemCall", "UnixSocket"]),
        .target(name: "ChipLink", dependencies: ["SwitchDriver", "SwitchModel", "SystemCall", "UnixSocket"]),
        .target(name: "EmulatedASICIO", dependencies: ["CPacketIO", "EmulatedASIC", "SwitchDriver", "SystemCall"], path: "Drivers/EmulatedASICIO"),
        .target(name: "DriverConformance", dependencies: ["SwitchDriver", "SwitchModel"]),
        .target(name: "Lab", dependencies: ["EmulatedASIC", "SwitchModel"]),
        // The differential tester's pure half: scenario files, probe frames, normalization and comparison.
        .target(name: "Difftest", dependencies: ["EmulatedASIC", "Lab", "SwitchModel"]),
        .target(name: "Daemon", dependencies: ["KernelMirror", "Netlink", "Offload", "Stages", "SwitchDriver", "SwitchModel"]),
        // hoistd's service around the daemon: the control socket's queries (streamed from
        // engine snapshots on worker threads) and watches, and the daemon's poll loop.
        .target(name: "DaemonService", dependencies: [
            "ControlAPI", "Daemon", "Offload", "Rendering", "SwitchDriver", "SwitchModel",
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(
            name: "hoist",
            dependencies: [
                "ControlAPI", "KernelMirror", "Lab", "Netlink", "Rendering", "ServiceSupport", "SwitchModel", "SystemCall",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "hoistd",
            dependencies: [
                "ChipLink", "ControlAPI", "Daemon", "DaemonService", "EmulatedASIC", "EmulatedASICIO", "Offload", "Rendering", "ServiceSupport",
                "SRIOVDriver", "SwitchDriver", "SwitchdevDriver", "SwitchModel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "hoist-asic",
            dependencies: [
                "ChipLink", "EmulatedASIC", "EmulatedASICIO", "ServiceSupport", "SwitchDriver",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The differential tester: a scenario in the kernel's bridge/router and in the emulated switch, compared.
        .executableTarget(name: "hoist-difftest", dependencies: ["CPacketIO", "Difftest", "Lab", "ServiceSupport"]),
        // Runs the driver conformance suite against a live driver (the Switchdev and SRIOV drivers in the VM).
        .executableTarget(
            name: "hoist-conformance",
            dependencies: ["DriverConformance", "EmulatedASIC", "ServiceSupport", "SRIOVDriver", "SwitchDriver", "SwitchdevDriver"]
        ),
        .executableTarget(
            name: "hoist-bench",
            dependencies: ["CJSON", "ChipLink", "ControlAPI", "Rendering", "KernelMirror", "Lab", "Netlink", "ServiceSupport", "SwitchModel", "SwitchDriver", "EmulatedASIC", "EmulatedASICIO", "Offload", "Stages", "Daemon", "DaemonService"]
        ),
        .testTarget(name: "SwitchModelTests", dependencies: ["SwitchModel"]),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "SwitchModel"]),
        .testTarget(name: "LabTests", dependencies: ["Lab", "SwitchModel"]),
        .testTarget(name: "DifftestTests", dependencies: ["Difftest", "EmulatedASIC", "Lab", "SwitchModel"]),
        .testTarget(name: "ControlAPITests", dependencies: ["ControlAPI", "Rendering", "ServiceSupport", "UnixSocket"]),
        .testTarget(name: "ChipLinkTests", dependencies: ["ChipLink", "DriverConformance", "EmulatedASIC", "SwitchDriver", "SwitchModel"]),
        .testTarget(name: "StagesTests", dependencies: ["Stages", "SwitchDriver", "SwitchModel"], exclude: ["Golden"]),
        .testTarget(name: "OffloadTests", dependencies: ["Offload", "Stages", "EmulatedASIC", "SwitchDriver", "SwitchModel"]),
        .testTarget(name: "SwitchdevDriverTests", dependencies: ["SwitchdevDriver", "KernelMirror", "Netlink", "Offload", "Stages", "SwitchDriver", "SwitchModel"]),
        .testTarget(name: "EmulatedASICTests", dependencies: ["EmulatedASIC", "DriverConformance", "SwitchDriver", "SwitchModel"]),
        .testTarget(
            name: "KernelTests",
            dependencies: ["ChipLink", "KernelMirror", "Netlink", "Rendering", "SwitchModel", "Daemon", "DaemonService", "EmulatedASIC", "EmulatedASICIO", "SwitchDriver", "Offload"],
            exclude: ["Golden"]
        ),
        // Boots the test VM (scripts/vm, Docs/VM.md) and runs guest scripts from Tests/VM.
        .testTarget(name: "VMTests"),
    ]
)

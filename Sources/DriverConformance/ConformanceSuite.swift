// The driver conformance suite; see Docs/Drivers.md.

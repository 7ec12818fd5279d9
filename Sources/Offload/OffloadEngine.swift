// The offload engine; see Docs/Offload.md.

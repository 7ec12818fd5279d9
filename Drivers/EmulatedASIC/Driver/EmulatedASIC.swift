// The emulated switch chip; see Docs/EmulatedASIC.md.
import SwitchDriver

import SwitchModel
import Testing

@Suite("Addresses and prefixes")
struct AddressTests {
    @Test("MAC addresses parse, print and classify")
    func mac() throws {
        let m = try #require(MACAddress("02:00:00:00:AA:01"))
        #expect(m.description == "02:00:00:00:aa:01")
        #expect(!m.isMulticast)
        #expect(MACAddress("01:80:c2:00:00:00")!.isLinkLocalReserved)
        #expect(MACAddress("01:00:5e:00:00:01")!.isMulticast)
        #expect(MACAddress("02:00:00:00:aa") == nil)
        #expect(MACAddress("zz:00:00:00:00:00") == nil)
    }

    @Test("IPv4 and IPv6 share one type and print as inet_ntop does")
    func ip() throws {
        let v4 = try #require(IPAddress("10.0.0.1"))
        #expect(v4.isIPv4 && v4.ipv4Value == 0x0A00_0001 && v4.description == "10.0.0.1")
        let v6 = try #require(IPAddress("2001:db8::1"))
        #expect(!v6.isIPv4 && v6.description == "2001:db8::1")
        #expect(IPAddress(bytes: v6.bytes) == v6)
        #expect(IPAddress("300.1.1.1") == nil)
        #expect(IPPrefix("0.0.0.0/0")?.description == "default")
        #expect(IPPrefix("10.0.0.1/32")?.description == "10.0.0.1")
        #expect(IPPrefix("10.1.0.0/16")?.description == "10.1.0.0/16")
        #expect(IPPrefix("10.0.0.0/33") == nil)
    }

    @Test("a prefix's covering prefixes clear the host bits")
    func covering() {
        #expect(IPPrefix("10.9.1.0/24")!.covering(16) == IPPrefix("10.9.0.0/16"))
        #expect(IPPrefix("10.9.1.0/24")!.covering(0) == IPPrefix("0.0.0.0/0"))
        #expect(IPPrefix("10.9.1.7/32")!.covering(32) == IPPrefix("10.9.1.7/32"))
        #expect(IPPrefix("2001:db8:1:2::/64")!.covering(32) == IPPrefix("2001:db8::/32"))
        #expect(IPPrefix("2001:db8:1:2:3::/80")!.covering(72) == IPPrefix("2001:db8:1:2::/72"))
    }
}

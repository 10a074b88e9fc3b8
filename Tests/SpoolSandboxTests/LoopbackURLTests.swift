import Testing

@testable import SpoolSandbox

@Suite struct LoopbackURLTests {
    @Test func theSandboxCallsBackLoopbackAddressesOnly() {
        for url in ["http://127.0.0.1:9/x", "http://127.3.2.1/", "http://localhost:80/", "http://[::1]:8080/"] {
            #expect(LoopbackURL.isLoopback(url), "\(url)")
        }
        for url in [
            "http://127.attacker.example/", "http://10.0.0.1/", "http://user@127.0.0.1.example.com/", "ftp://127.0.0.1/",
            "http://1270.0.0.1/",
        ] {
            #expect(!LoopbackURL.isLoopback(url), "\(url)")
        }
    }
}

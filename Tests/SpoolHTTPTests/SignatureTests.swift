import SpoolHTTP
import SpoolSupport
import Testing

@Suite struct SignatureTests {
    /// The example from Twilio's webhook-security documentation, worked through the published
    /// algorithm: URL, then the POST parameters sorted by name, each as name+value.
    @Test func twilioSignatureMatchesThePublishedExample() {
        let parameters = [
            ("CallSid", "CA1234567890ABCDE"), ("Caller", "+12349013030"), ("Digits", "1234"),
            ("From", "+12349013030"), ("To", "+18005551212"),
        ]
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2"
        #expect(TwilioSignature.sign(url: url, parameters: parameters, authToken: "12345") == "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
        #expect(
            TwilioSignature.isValid(
                signature: "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", url: url, parameters: parameters.reversed(), authToken: "12345"))
        #expect(!TwilioSignature.isValid(signature: "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", url: url, parameters: parameters, authToken: "54321"))
        #expect(
            !TwilioSignature.isValid(
                signature: "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", url: url + "&x=1", parameters: parameters, authToken: "12345"))
    }
}

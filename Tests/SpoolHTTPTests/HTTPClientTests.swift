import SpoolHTTP
import SpoolSupport
import Synchronization
import TestSupport
import Testing

/// The HTTP client against the sandbox provider over real loopback sockets.
@Suite struct HTTPClientTests {
    @Test func sendsJSONAndParsesStatusHeadersAndBody() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        let response = try await client.send(HTTPClientRequest("POST", sandbox.baseURL + "/_sandbox/echo", body: .json(#"{"a":1}"#)))
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "application/json")
        #expect(response.headers["SERVER"] == "spool-sandbox")
        #expect(response.json?["ok"] == .bool(true))
        await sandbox.stop()
    }

    @Test func aPostWithoutABodySendsAnEmptyOne() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        let response = try await client.send(HTTPClientRequest("POST", sandbox.baseURL + "/_sandbox/echo", timeout: .seconds(5)))
        #expect(response.status == 200)
        await sandbox.stop()
    }

    @Test func reusesConnections() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        for _ in 0..<50 { _ = try await client.send(HTTPClientRequest("GET", sandbox.baseURL + "/_sandbox/echo")) }
        let counters = try await sandbox.counters()
        // One for these 50 requests, one for the counters request itself.
        #expect(counters["connections_opened"]?.intValue == 2)
        await sandbox.stop()
    }

    @Test func sustains200ConcurrentRequestsWithoutErrors() async throws {
        let sandbox = try await RunningSandbox.start()
        try await sandbox.setFaults(#"{"scope": "echo", "latency_ms": 50}"#)
        let client = HTTPClient()
        defer { client.close() }
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<200 {
                group.addTask { try await client.send(HTTPClientRequest("GET", sandbox.baseURL + "/_sandbox/echo")).status }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.count == 200 && statuses.allSatisfy { $0 == 200 })
        #expect(try await sandbox.counters()["requests"]?["echo"]?.intValue == 200)
        await sandbox.stop()
    }

    @Test func timesOutAndSaysSo() async throws {
        let sandbox = try await RunningSandbox.start()
        try await sandbox.setFaults(#"{"scope": "echo", "latency_ms": 30000}"#)
        let client = HTTPClient()
        defer { client.close() }
        let request = HTTPClientRequest("GET", sandbox.baseURL + "/_sandbox/echo", timeout: .milliseconds(200))
        let started = ContinuousClock.now
        await #expect { try await client.send(request) } throws: { error in
            (error as? HTTPClientError)?.kind == .timeout && "\(error)".contains("GET http://127.0.0.1")
        }
        #expect(ContinuousClock.now - started < .seconds(20))  // the sandbox would answer after 30 s
        #expect(await client.call { _ in request }.verdict.isRetryable)
        await sandbox.stop()
    }

    @Test func cancellingAbortsATransferInFlight() async throws {
        let sandbox = try await RunningSandbox.start()
        try await sandbox.setFaults(#"{"scope": "echo", "latency_ms": 30000}"#)
        let client = HTTPClient()
        defer { client.close() }
        let request = HTTPClientRequest("GET", sandbox.baseURL + "/_sandbox/echo", timeout: .seconds(60))
        let call = Task { try await client.send(request) }
        try await waitUntil("the request reaches the sandbox") { try await sandbox.counters()["requests"]?["echo"]?.intValue == 1 }
        let cancelled = ContinuousClock.now
        call.cancel()
        await #expect(throws: CancellationError.self) { try await call.value }
        #expect(ContinuousClock.now - cancelled < .seconds(20))  // the sandbox would answer after 30 s; wide for a busy machine
        // The client goes on serving.
        try await sandbox.setFaults(#"{"scope": "echo", "latency_ms": 0}"#)
        #expect(try await client.send(HTTPClientRequest("GET", sandbox.baseURL + "/_sandbox/echo")).status == 200)
        await sandbox.stop()
    }

    @Test func aRequestFromACancelledTaskIsNotSent() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        let request = HTTPClientRequest("GET", sandbox.baseURL + "/_sandbox/echo")
        let call = Task {
            try? await Task.sleep(for: .seconds(60))  // ends when the task is cancelled
            return try await client.send(request)
        }
        call.cancel()
        await #expect(throws: CancellationError.self) { try await call.value }
        #expect(try await sandbox.counters()["requests"]?["echo"]?.intValue ?? 0 == 0)
        await sandbox.stop()
    }

    @Test func refusedAndDroppedConnectionsAreRetryable() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        let closedPort = try LocalServer.freePort()
        await #expect { try await client.send(HTTPClientRequest("GET", "http://127.0.0.1:\(closedPort)/")) } throws: { error in
            (error as? HTTPClientError)?.kind == .connect
        }
        try await sandbox.setFaults(#"{"scope": "echo", "drop_rate": 1}"#)
        await #expect { try await client.send(HTTPClientRequest("GET", sandbox.baseURL + "/_sandbox/echo")) } throws: { error in
            (error as? HTTPClientError)?.kind == .connectionLost
        }
        #expect(try await sandbox.counters()["dropped_connections"]?.intValue == 1)
        await sandbox.stop()
    }

    @Test func injectedFaultsClassify() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        let echo = HTTPClientRequest("GET", sandbox.baseURL + "/_sandbox/echo")
        try await sandbox.setFaults(#"{"scope": "echo", "error_rates": {"500": 1}}"#)
        #expect(await client.call { _ in echo }.verdict == .retryable(reason: "HTTP 500: injected fault", after: nil))
        try await sandbox.setFaults(#"{"scope": "echo", "error_rates": {"503": 1}, "retry_after_seconds": 3}"#)
        #expect(await client.call { _ in echo }.verdict == .retryable(reason: "HTTP 503: injected fault", after: .seconds(3)))
        try await sandbox.setFaults(#"{"scope": "echo", "error_rates": {}, "burst_429": 2, "retry_after_seconds": 2}"#)
        for _ in 0..<2 {
            let before = SystemClock().nowMillis()
            guard case .rateLimited(let until, _) = await client.call({ _ in echo }).verdict else {
                Issue.record("not rate limited"); return
            }
            #expect(until >= before + 2000 && until <= SystemClock().nowMillis() + 2000)
        }
        #expect(await client.call { _ in echo }.verdict == .success)
        await sandbox.stop()
    }

    @Test func refusesHeaderInjectionAndKeepsSecretsOutOfErrors() async throws {
        let client = HTTPClient()
        defer { client.close() }
        await #expect { try await client.send(HTTPClientRequest("GET", "http://127.0.0.1:1/", headers: ["X-A": "1\r\nX-B: 2"])) } throws: {
            error in
            (error as? HTTPClientError)?.kind == .invalidRequest
        }
        let closedPort = try LocalServer.freePort()
        let request = HTTPClientRequest(
            "GET", "http://user:hunter2@127.0.0.1:\(closedPort)/x?api_key=sk-secret-1",
            headers: ["Authorization": HTTPClientRequest.bearerAuthorization("sk-secret-2")])
        await #expect { try await client.send(request) } throws: { error in
            let text = "\(error)"
            return !text.contains("hunter2") && !text.contains("sk-secret-1") && !text.contains("sk-secret-2")
                && text.contains("api_key=REDACTED")
        }
    }
}

extension ProviderVerdict {
    var isRetryable: Bool { if case .retryable = self { return true }; return false }
}

import SpoolHTTP
import SpoolSupport
import TestSupport
import Testing

@testable import SpoolSandbox

/// The sandbox's chat completions as the official OpenAI SDKs call it, and Twilio's list paging, over HTTP.
@Suite struct ChatCompletionsTests {
    private func chat(_ sandbox: RunningSandbox, _ body: String) -> HTTPClientRequest {
        HTTPClientRequest(
            "POST", sandbox.baseURL + "/v1/chat/completions",
            headers: ["Authorization": HTTPClientRequest.bearerAuthorization("sk-test-key")], body: .json(body))
    }

    private func firstChoice(_ response: HTTPClientResponse) -> JSONValue? {
        response.json?["choices"]?.arrayValue?.first
    }

    @Test func contentPartArraysAreAcceptedAndQuoted() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        let asString = try await client.send(
            chat(sandbox, #"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Can we move my appointment?"}]}"#))
        let asParts = try await client.send(
            chat(
                sandbox,
                #"""
                {"model": "gpt-4o-mini", "temperature": 0.2, "max_completion_tokens": 200, "user": "tenant-1", "seed": 7,
                 "messages": [{"role": "user", "content": [{"type": "text", "text": "Can we move"}, {"type": "text", "text": "my appointment?"}]}]}
                """#))
        #expect(asString.status == 200 && asParts.status == 200)
        let reply = try #require(firstChoice(asString)?["message"]?["content"]?.stringValue)
        #expect(reply.contains("\"Can we move my appointment?\""))
        // Text parts joined read as the same conversation as the string.
        #expect(firstChoice(asParts)?["message"]?["content"]?.stringValue == reply)
        #expect(firstChoice(asParts)?["message"]?["refusal"] == .null)
        #expect(firstChoice(asParts)?["finish_reason"]?.stringValue == "stop")

        // Images and audio count, but add no text; a system and a developer message, and an assistant
        // that called a tool (content null) answered by the tool, are all accepted.
        let mixed = try await client.send(
            chat(
                sandbox,
                #"""
                {"model": "gpt-4o-mini", "tools": [{"type": "function", "function": {"name": "book", "parameters": {"type": "object"}}}],
                 "response_format": {"type": "text"}, "n": 1,
                 "messages": [
                  {"role": "system", "content": "You are a receptionist."},
                  {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
                  {"role": "user", "content": "Book me in"},
                  {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "book", "arguments": "{}"}}]},
                  {"role": "tool", "tool_call_id": "call_1", "content": "booked"},
                  {"role": "assistant", "content": "Booked."},
                  {"role": "user", "content": [
                    {"type": "text", "text": "Here is the voice note"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                    {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]}
                """#))
        #expect(mixed.status == 200, "\(mixed.text)")
        #expect(firstChoice(mixed)?["message"]?["content"]?.stringValue?.contains("\"Here is the voice note\"") == true)
        let promptTokens = try #require(mixed.json?["usage"]?["prompt_tokens"]?.intValue)
        #expect(promptTokens > 2 * ChatCompletionsAPI.mediaPartTokens)

        let counters = try await sandbox.counters()
        #expect(counters["chat"]?["completed"]?.intValue == 3)
        #expect((counters["chat_tokens"]?["total"]?.intValue ?? 0) > promptTokens)
        await sandbox.stop()
    }

    @Test func aStreamIsChunksThatAddUpToTheSameReplyThenDone() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        let messages =
            #"[{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Is the delivery on time for tomorrow morning?"}]"#
        let plain = try await client.send(chat(sandbox, #"{"model": "gpt-4o-mini", "messages": \#(messages)}"#))
        let reply = try #require(firstChoice(plain)?["message"]?["content"]?.stringValue)
        let usage = try #require(plain.json?["usage"])

        let streamed = try await client.send(
            chat(
                sandbox,
                #"{"model": "gpt-4o-mini", "stream": true, "stream_options": {"include_usage": true}, "messages": \#(messages)}"#))
        #expect(streamed.status == 200)
        #expect(streamed.headers["Content-Type"]?.hasPrefix("text/event-stream") == true)
        #expect(streamed.headers["x-ratelimit-remaining-requests"] != nil && streamed.headers["x-ratelimit-limit-tokens"] != nil)

        // Exactly `data: ...` events, each followed by a blank line, the last one `[DONE]`.
        let text = streamed.text
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.allSatisfy { $0.hasPrefix("data: ") })
        #expect(lines.map { $0 + "\n\n" }.joined() == text)
        #expect(lines.last == "data: [DONE]")
        var chunks: [JSONValue] = []
        for line in lines.dropLast() { chunks.append(try JSONValue.parse(String(line.dropFirst("data: ".count)))) }
        try #require(chunks.count >= 4)
        #expect(chunks.allSatisfy { $0["object"]?.stringValue == "chat.completion.chunk" })
        #expect(Set(chunks.compactMap { $0["id"]?.stringValue }).count == 1)

        let first = chunks[0]["choices"]?.arrayValue?.first?["delta"]
        #expect(first?["role"]?.stringValue == "assistant" && first?["content"]?.stringValue == "")
        let content = chunks.compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }.joined()
        #expect(content == reply)

        let finish = chunks[chunks.count - 2]["choices"]?.arrayValue?.first
        #expect(finish?["finish_reason"]?.stringValue == "stop" && finish?["delta"] == .object([:]))
        let last = chunks[chunks.count - 1]
        #expect(last["choices"] == .array([]))
        #expect(last["usage"]?["total_tokens"] == usage["total_tokens"] && last["usage"]?["prompt_tokens"] == usage["prompt_tokens"])
        #expect(chunks.dropLast().allSatisfy { $0["usage"] == .null })

        // Without include_usage: no usage chunk, and no usage field at all.
        let bare = try await client.send(chat(sandbox, #"{"model": "gpt-4o-mini", "stream": true, "messages": \#(messages)}"#))
        let bareChunks = try bare.text.split(separator: "\n").dropLast().map { try JSONValue.parse(String($0.dropFirst("data: ".count))) }
        #expect(bareChunks.allSatisfy { $0["usage"] == nil && $0["choices"]?.arrayValue?.count == 1 })
        #expect(bareChunks.last?["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue == "stop")

        let counters = try await sandbox.counters()
        #expect(counters["chat"]?["completed"]?.intValue == 3 && counters["chat_streamed"]?.intValue == 2)
        await sandbox.stop()
    }

    @Test func aPromptOverTheContextWindowIsOpenAIsContextLengthError() async throws {
        let sandbox = try await RunningSandbox.start()
        try await sandbox.setFaults(#"{"chat_context_tokens": 50}"#)
        let client = HTTPClient()
        defer { client.close() }
        // "user: " + 400 characters + "\n" is 407 bytes: 102 tokens, and 3 for the message.
        let long = String(repeating: "a", count: 400)
        let body = #"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "\#(long)"}]}"#
        let result = await client.call { _ in chat(sandbox, body) }
        #expect(result.response?.status == 400)
        #expect(
            result.response?.json
                == .object([
                    "error": .object([
                        "message": .string(
                            "This model's maximum context length is 50 tokens. However, your messages resulted in 105 tokens. Please reduce the length of the messages."
                        ),
                        "type": .string("invalid_request_error"), "param": .string("messages"),
                        "code": .string("context_length_exceeded"),
                    ])
                ]))
        guard case .permanent(let code, _) = result.verdict else { Issue.record("not permanent: \(result.verdict)"); return }
        #expect(code == "context_length_exceeded")
        // A short one still fits.
        let short = try await client.send(chat(sandbox, #"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}"#))
        #expect(short.status == 200)
        let counters = try await sandbox.counters()
        #expect(counters["chat"]?["context_length_exceeded"]?.intValue == 1 && counters["chat"]?["completed"]?.intValue == 1)
        #expect(try await sandbox.setFaults("{}")["chat_context_tokens"]?.intValue == 50)
        await sandbox.stop()
    }

    @Test func aRefuseWordInTheLastUserMessageIsAContentFilterRefusal() async throws {
        let sandbox = try await RunningSandbox.start()
        let settings = try await sandbox.setFaults(#"{"chat_refuse_words": ["Forbidden Topic"]}"#)
        #expect(settings["chat_refuse_words"] == .array([.string("forbidden topic")]))
        let client = HTTPClient()
        defer { client.close() }
        let body =
            #"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}, {"role": "user", "content": "Tell me about the FORBIDDEN topic"}]}"#
        let refused = try await client.send(chat(sandbox, body))
        #expect(refused.status == 200)
        let choice = try #require(firstChoice(refused))
        #expect(choice["finish_reason"]?.stringValue == "content_filter")
        #expect(choice["message"]?["content"] == .null)
        #expect(choice["message"]?["refusal"]?.stringValue == "I'm sorry, I can't help with that.")
        #expect(choice["message"]?["role"]?.stringValue == "assistant")

        // Streamed, the refusal comes in `refusal` deltas.
        let streamed = try await client.send(
            chat(sandbox, #"{"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "the forbidden topic"}]}"#))
        let chunks = try streamed.text.split(separator: "\n").dropLast().map { try JSONValue.parse(String($0.dropFirst("data: ".count))) }
        let deltas = chunks.compactMap { $0["choices"]?.arrayValue?.first?["delta"] }
        #expect(deltas.compactMap { $0["refusal"]?.stringValue }.joined() == ChatCompletionsAPI.refusalText)
        #expect(deltas.allSatisfy { $0["content"] == nil || $0["content"] == .null })
        #expect(chunks.last?["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue == "content_filter")

        // Only the last user message counts.
        let earlier =
            #"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "the forbidden topic"}, {"role": "user", "content": "never mind"}]}"#
        let answered = try await client.send(chat(sandbox, earlier))
        #expect(firstChoice(answered)?["finish_reason"]?.stringValue == "stop")
        #expect(firstChoice(answered)?["message"]?["refusal"] == .null)

        let counters = try await sandbox.counters()
        #expect(counters["chat"]?["content_filter"]?.intValue == 2 && counters["chat"]?["completed"]?.intValue == 1)
        await #expect { try await sandbox.setFaults(#"{"chat_refuse_words": [""]}"#) } throws: { "\($0)".contains("chat_refuse_words") }
        await sandbox.stop()
    }

    @Test func requestsOpenAIWouldRefuseAre400sNamingTheParameter() async throws {
        let sandbox = try await RunningSandbox.start()
        let client = HTTPClient()
        defer { client.close() }
        func refusal(_ body: String) async throws -> JSONValue? {
            let response = try await client.send(chat(sandbox, body))
            #expect(response.status == 400, "\(body) → \(response.status) \(response.text)")
            #expect(response.json?["error"]?["type"]?.stringValue == "invalid_request_error")
            return response.json?["error"]
        }
        let badRole = try await refusal(#"{"model": "gpt-4o-mini", "messages": [{"role": "robot", "content": "beep"}]}"#)
        #expect(badRole?["param"]?.stringValue == "messages[0].role" && badRole?["code"]?.stringValue == "invalid_value")
        #expect(badRole?["message"]?.stringValue?.contains("'robot'") == true)
        #expect(try await refusal(#"{"messages": [{"role": "user", "content": "hi"}]}"#)?["param"]?.stringValue == "model")
        #expect(try await refusal(#"{"model": "gpt-4o-mini"}"#)?["param"]?.stringValue == "messages")
        #expect(try await refusal(#"{"model": "gpt-4o-mini", "messages": []}"#)?["param"]?.stringValue == "messages")
        #expect(
            try await refusal(#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": null}]}"#)?["param"]?.stringValue
                == "messages[0].content")
        #expect(
            try await refusal(#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [{"type": "video"}]}]}"#)?["param"]?
                .stringValue == "messages[0].content[0].type")
        #expect(
            try await refusal(#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [{"type": "text"}]}]}"#)?["param"]?
                .stringValue == "messages[0].content[0].text")
        #expect(
            try await refusal(#"{"model": "gpt-4o-mini", "messages": [{"role": "tool", "tool_call_id": "call_1", "content": "x"}]}"#)?[
                "param"]?.stringValue == "messages[0].role")
        #expect(
            try await refusal(
                #"{"model": "gpt-4o-mini", "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "hi"}]}"#)?[
                "param"]?.stringValue == "stream_options")
        let counters = try await sandbox.counters()
        #expect(counters["chat"]?["invalid_request"]?.intValue == 9 && counters["chat"]?["completed"] == nil)
        await sandbox.stop()
    }

    @Test func twilioListsPageWithTokensAndMediaListsTheAttachments() async throws {
        let sandbox = try await RunningSandbox.start()
        let receiver = try await CallbackReceiver.start()
        try await sandbox.setFaults(#"{"sms_burst": 10, "inbound_url": "http://127.0.0.1:\#(receiver.port)/hooks/sms"}"#)
        let client = HTTPClient()
        defer { client.close() }
        let auth = HTTPClientRequest.basicAuthorization(user: RunningSandbox.accountSid, password: RunningSandbox.authToken)
        let messagesPath = "/2010-04-01/Accounts/\(RunningSandbox.accountSid)/Messages.json"
        var sent: [String] = []
        for index in 0..<5 {
            let response = try await client.send(
                HTTPClientRequest(
                    "POST", sandbox.baseURL + messagesPath, headers: ["Authorization": auth],
                    body: .form([("To", "+1555123400\(index)"), ("From", "+15557654321"), ("Body", "Hello \(index)")])))
            #expect(response.status == 201)
            sent.append(try #require(response.json?["sid"]?.stringValue))
        }
        // The keys the Twilio SDKs take for paging: the records are under the only other one.
        let pagingKeys: Set<String> = [
            "end", "first_page_uri", "next_page_uri", "last_page_uri", "page", "page_size", "previous_page_uri", "total", "num_pages",
            "start", "uri",
        ]
        var uri: String? = messagesPath + "?PageSize=2"
        var listed: [String] = []
        var pages: [JSONValue] = []
        while let next = uri {
            let response = try await client.send(HTTPClientRequest("GET", sandbox.baseURL + next, headers: ["Authorization": auth]))
            #expect(response.status == 200)
            let page = try #require(response.json)
            #expect(Set(page.objectValue?.keys.map { $0 } ?? []).subtracting(pagingKeys) == ["messages"])
            listed += page["messages"]?.arrayValue?.compactMap { $0["sid"]?.stringValue } ?? []
            pages.append(page)
            uri = page["next_page_uri"]?.stringValue
            if pages.count > 5 { break }
        }
        #expect(listed == Array(sent.reversed()))
        try #require(pages.count == 3)
        #expect(pages.map { $0["page"]?.intValue } == [0, 1, 2])
        #expect(pages.map { $0["start"]?.intValue } == [0, 2, 4])
        #expect(pages.map { $0["end"]?.intValue } == [1, 3, 4])
        #expect(pages[0]["previous_page_uri"] == .null && pages[2]["next_page_uri"] == .null)
        #expect(pages.allSatisfy { $0["page_size"]?.intValue == 2 && $0["first_page_uri"]?.stringValue?.contains("Page=0") == true })
        // Back from the last page to the second.
        let previous = try #require(pages[2]["previous_page_uri"]?.stringValue)
        let back = try await client.send(HTTPClientRequest("GET", sandbox.baseURL + previous, headers: ["Authorization": auth]))
        #expect(back.json?["messages"]?.arrayValue?.compactMap { $0["sid"]?.stringValue } == [sent[2], sent[1]])
        // Filters stay on the page URIs.
        let filtered = try await client.send(
            HTTPClientRequest("GET", sandbox.baseURL + messagesPath + "?To=%2B15551234003", headers: ["Authorization": auth]))
        #expect(filtered.json?["messages"]?.arrayValue?.count == 1)
        #expect(filtered.json?["uri"]?.stringValue?.contains("To=%2B15551234003") == true)

        let inbound = try await client.send(
            HTTPClientRequest(
                "POST", sandbox.baseURL + "/_sandbox/inbound",
                body: .json(
                    #"{"from": "+15550001111", "to": "+15557654321", "body": "", "media": [{"content_type": "audio/ogg"}, {"content_type": "image/jpeg"}, {"content_type": "image/png"}]}"#
                )))
        #expect(inbound.status == 200, "\(inbound.text)")
        let messageSid = try #require(inbound.json?["sid"]?.stringValue)
        let hosted = (inbound.json?["media"]?.arrayValue ?? []).compactMap { item -> String? in
            guard let url = item["url"]?.stringValue, let last = url.split(separator: "/").last else { return nil }
            return String(last)
        }
        #expect(hosted.count == 3)
        let mediaPath = "/2010-04-01/Accounts/\(RunningSandbox.accountSid)/Messages/\(messageSid)/Media.json"
        let firstMedia = try await client.send(
            HTTPClientRequest("GET", sandbox.baseURL + mediaPath + "?PageSize=2", headers: ["Authorization": auth]))
        #expect(firstMedia.status == 200, "\(firstMedia.text)")
        let firstPage = try #require(firstMedia.json)
        #expect(Set(firstPage.objectValue?.keys.map { $0 } ?? []).subtracting(pagingKeys) == ["media_list"])
        let nextMedia = try #require(firstPage["next_page_uri"]?.stringValue)
        let secondMedia = try await client.send(HTTPClientRequest("GET", sandbox.baseURL + nextMedia, headers: ["Authorization": auth]))
        let media = (firstPage["media_list"]?.arrayValue ?? []) + (secondMedia.json?["media_list"]?.arrayValue ?? [])
        #expect(media.compactMap { $0["sid"]?.stringValue } == hosted)
        #expect(media.compactMap { $0["content_type"]?.stringValue } == ["audio/ogg", "image/jpeg", "image/png"])
        #expect(media.allSatisfy { $0["parent_sid"]?.stringValue == messageSid })
        #expect(secondMedia.json?["next_page_uri"] == .null)
        // An outbound message has none; without credentials, 401.
        let none = try await client.send(
            HTTPClientRequest(
                "GET", sandbox.baseURL + "/2010-04-01/Accounts/\(RunningSandbox.accountSid)/Messages/\(sent[0])/Media.json",
                headers: ["Authorization": auth]))
        #expect(none.status == 200 && none.json?["media_list"] == .array([]))
        let anonymous = try await client.send(HTTPClientRequest("GET", sandbox.baseURL + mediaPath))
        #expect(anonymous.status == 401)
        await receiver.stop()
        await sandbox.stop()
    }
}

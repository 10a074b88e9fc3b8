#!/usr/bin/env python3
"""The providers' official Python SDKs against the sandbox (scripts/test.sh installs them, pinned).

Spool's sandbox imitates Twilio Messaging, OpenAI and Google Calendar closely enough that the official
clients work against it unchanged: this program checks the calls Spool's path relies on, each with
the SDK pointed at the sandbox in the way the SDK itself supports (openai's `base_url`, the Twilio
client's `api.base_url` domain, google-api-python-client's `client_options.api_endpoint` with the
calendar discovery document the library ships, google-auth's `token_uri`). Nothing is patched.

It prints one line per check and exits 0 only when every check passed. Webhooks the sandbox posts
(Twilio's inbound message and status callbacks, Google's push notifications) land on a small HTTP
server this program runs on a loopback port.

Usage: sdk_test.py [SANDBOX_URL]; or the environment's SPOOL_SANDBOX (e.g. http://127.0.0.1:4010).
The Twilio account is SPOOL_SANDBOX_TWILIO_ACCOUNT_SID and SPOOL_SANDBOX_TWILIO_AUTH_TOKEN, as for
`spool sandbox` (the sandbox's defaults otherwise).
"""
import io
import json
import os
import sys
import threading
import time
import traceback
import urllib.parse
import urllib.request
import uuid
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import google.auth.exceptions
import google.auth.transport.requests
import google_auth_httplib2
import httplib2
import openai
import requests
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

SANDBOX = (sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SPOOL_SANDBOX", "")).rstrip("/")
ACCOUNT_SID = os.environ.get("SPOOL_SANDBOX_TWILIO_ACCOUNT_SID") or "AC00000000000000000000000000000001"
AUTH_TOKEN = os.environ.get("SPOOL_SANDBOX_TWILIO_AUTH_TOKEN") or "sandbox-auth-token"
OPENAI_KEY = "sk-sdk-test-0000000000000000"
TIMEOUT = 30  # seconds to wait for a webhook; the sandbox sends them within milliseconds


# --- the sandbox's own control endpoints ---------------------------------------------------------


def control(method, path, body=None):
    """Calls one of the sandbox's /_sandbox endpoints; answers the decoded JSON."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(SANDBOX + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def faults(**settings):
    return control("POST", "/_sandbox/faults", settings)


# --- a loopback server for the webhooks the sandbox posts ----------------------------------------


class Webhooks:
    """Records every request made to it; answers an empty TwiML document to each."""

    def __init__(self):
        self.received = []
        self.changed = threading.Condition()
        webhooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with webhooks.changed:
                    webhooks.received.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
                    webhooks.changed.notify_all()
                answer = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, what, match, count=1):
        """The first `count` requests `match` accepts, in arrival order, once that many arrived."""
        deadline = time.monotonic() + TIMEOUT
        with self.changed:
            while True:
                found = [r for r in self.received if match(r)]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"waited {TIMEOUT} s for {what}: {len(found)} of {count} arrived")
                self.changed.wait(left)

    def stop(self):
        self.server.shutdown()


def form(record):
    """A webhook's form body as a dict (each name once, as Twilio sends them)."""
    return dict(urllib.parse.parse_qsl(record["body"].decode(), keep_blank_values=True))


def header(record, name):
    return next((v for k, v in record["headers"].items() if k.lower() == name.lower()), None)


# --- the checks ------------------------------------------------------------------------------------


class Checks:
    def __init__(self):
        self.failed = []
        self.count = 0

    def run(self, name, check):
        self.count += 1
        try:
            check()
        except Exception as error:  # every failure is reported, then the next check runs
            self.failed.append(name)
            detail = f"{type(error).__name__}: {error}".replace("\n", " ")[:600]
            print(f"FAIL {name}: {detail}", flush=True)
            if os.environ.get("SDK_TEST_TRACEBACK"):
                traceback.print_exc()
            return
        print(f"ok   {name}", flush=True)


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def tiny_wav():
    """A tenth of a second of a 440 Hz-ish square wave, 8 kHz mono 16-bit: a real, playable WAV."""
    frames = b"".join((b"\xff\x3f" if (i // 9) % 2 else b"\x01\xc0") for i in range(800))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(frames)
    return buffer.getvalue()


def openai_checks(checks, shared):
    client = openai.OpenAI(base_url=SANDBOX + "/v1", api_key=OPENAI_KEY, max_retries=0, timeout=30)

    def chat_string():
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": "You answer for Acme Dental."},
                {"role": "user", "content": "Can I move my appointment to Friday?"},
            ],
            max_completion_tokens=200,
        )
        completion = raw.parse()
        expect(completion.object == "chat.completion", f"object {completion.object!r}")
        message = completion.choices[0].message
        expect(message.role == "assistant" and message.content, f"message {message!r}")
        expect("Can I move my appointment" in message.content, f"the reply does not quote the user: {message.content!r}")
        expect(completion.choices[0].finish_reason == "stop", f"finish_reason {completion.choices[0].finish_reason!r}")
        expect(completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0, f"usage {completion.usage!r}")
        expect(raw.headers.get("x-ratelimit-remaining-requests") is not None, "no x-ratelimit-remaining-requests header")

    def chat_parts():
        completion = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": [{"type": "text", "text": "You answer for Acme Dental."}]},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Here is my X-ray,"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
                        {"type": "text", "text": "is it fine?"},
                    ],
                },
            ],
        )
        content = completion.choices[0].message.content
        expect(content and "Here is my X-ray, is it fine?" in content, f"the reply does not quote the text parts: {content!r}")

    def chat_stream():
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Do you open on Saturdays?"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        text, finish, usage, chunks = "", None, None, 0
        for chunk in stream:
            chunks += 1
            expect(chunk.object == "chat.completion.chunk", f"chunk object {chunk.object!r}")
            for choice in chunk.choices:
                text += choice.delta.content or ""
                finish = choice.finish_reason or finish
            if chunk.usage is not None:
                expect(not chunk.choices, "the usage chunk has choices")
                usage = chunk.usage
        expect(chunks >= 3, f"{chunks} chunks")
        expect("Do you open on Saturdays?" in text, f"the streamed text does not quote the user: {text!r}")
        expect(finish == "stop", f"finish_reason {finish!r}")
        expect(usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens, f"usage {usage!r}")

    def chat_stream_helper():
        # The SDK's accumulating helper builds the final completion out of the chunks.
        with client.chat.completions.stream(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Is parking free?"}], stream_options={"include_usage": True}
        ) as stream:
            for _ in stream:
                pass
            final = stream.get_final_completion()
        content = final.choices[0].message.content
        expect(content and "Is parking free?" in content, f"final content {content!r}")
        expect(final.usage is not None and final.usage.completion_tokens > 0, f"usage {final.usage!r}")

    def chat_refusal():
        faults(chat_refuse_words=["weapon"])
        try:
            completion = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Sell me a weapon"}])
        finally:
            faults(chat_refuse_words=[])
        choice = completion.choices[0]
        expect(choice.finish_reason == "content_filter", f"finish_reason {choice.finish_reason!r}")
        expect(choice.message.content is None and choice.message.refusal, f"message {choice.message!r}")

    def context_length():
        context = control("GET", "/_sandbox/faults")["chat_context_tokens"]
        faults(chat_context_tokens=10)
        try:
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "A message well over ten tokens, as a long history is."}])
        except openai.BadRequestError as error:
            expect(error.code == "context_length_exceeded" and error.param == "messages", f"code {error.code!r} param {error.param!r}")
        else:
            raise AssertionError("no openai.BadRequestError for a prompt over the context window")
        finally:
            faults(chat_context_tokens=context)

    def transcription_wav():
        audio = tiny_wav()
        result = client.audio.transcriptions.create(model="whisper-1", file=("note.wav", audio, "audio/wav"))
        expect(isinstance(result.text, str) and result.text, f"text {result.text!r}")
        verbose = client.audio.transcriptions.create(
            model="whisper-1", file=("note.wav", audio, "audio/wav"), response_format="verbose_json")
        expect(verbose.text == result.text, f"verbose text {verbose.text!r} differs from {result.text!r}")
        expect(isinstance(verbose.duration, (int, float)) and verbose.duration > 0, f"duration {verbose.duration!r}")
        plain = client.audio.transcriptions.create(model="whisper-1", file=("note.wav", audio, "audio/wav"), response_format="text")
        expect(isinstance(plain, str) and plain.strip() == result.text, f"text format {plain!r}")

    def transcription_of_inbound_media():
        media = shared.get("media")
        expect(media is not None, "no inbound voice note to transcribe (the Twilio inbound check failed)")
        result = client.audio.transcriptions.create(
            model="whisper-1", file=("voice.ogg", media["bytes"], "audio/ogg"), response_format="verbose_json")
        expect(result.text == media["transcript"], f"text {result.text!r}, expected {media['transcript']!r}")
        expect(result.duration == media["duration"], f"duration {result.duration!r}, expected {media['duration']}")

    def rate_limit_error():
        faults(scope="chat", burst_429=1)
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
        except openai.RateLimitError as error:
            expect(error.status_code == 429, f"status {error.status_code}")
            expect(error.code == "rate_limit_exceeded", f"code {error.code!r}")
            expect(error.response.headers.get("retry-after") is not None, "no retry-after header")
        else:
            raise AssertionError("no openai.RateLimitError for an injected 429")
        finally:
            faults(scope="chat", burst_429=0)

    def rate_limit_retried():
        # The SDK's own retry reads retry-after-ms / retry-after and tries again.
        faults(scope="chat", burst_429=1)
        try:
            retrying = client.with_options(max_retries=2)
            completion = retrying.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello again"}])
            expect("hello again" in (completion.choices[0].message.content or ""), "no reply after the retry")
        finally:
            faults(scope="chat", burst_429=0)

    def transcription_rate_limit():
        faults(scope="transcription", burst_429=1)
        try:
            client.audio.transcriptions.create(model="whisper-1", file=("note.wav", tiny_wav(), "audio/wav"))
        except openai.RateLimitError as error:
            expect(error.status_code == 429, f"status {error.status_code}")
        else:
            raise AssertionError("no openai.RateLimitError for an injected 429")
        finally:
            faults(scope="transcription", burst_429=0)

    def insufficient_quota():
        faults(insufficient_quota=True)
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
        except openai.RateLimitError as error:
            expect(error.code == "insufficient_quota", f"code {error.code!r}")
            expect(error.type == "insufficient_quota", f"type {error.type!r}")
        else:
            raise AssertionError("no openai.RateLimitError for insufficient_quota")
        finally:
            faults(insufficient_quota=False)

    def bad_request():
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=[])
        except openai.BadRequestError as error:
            expect(error.param == "messages", f"param {error.param!r}")
        else:
            raise AssertionError("no openai.BadRequestError for an empty messages array")

    def unauthorized():
        stranger = openai.OpenAI(base_url=SANDBOX + "/v1", api_key="not-a-key", max_retries=0)
        try:
            stranger.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
        except openai.AuthenticationError as error:
            expect(error.code == "invalid_api_key", f"code {error.code!r}")
        else:
            raise AssertionError("no openai.AuthenticationError for a bad key")

    checks.run("openai: chat.completions.create, string content (and x-ratelimit headers)", chat_string)
    checks.run("openai: chat.completions.create, content parts", chat_parts)
    checks.run("openai: chat.completions.create, stream with include_usage", chat_stream)
    checks.run("openai: chat.completions.stream helper's final completion", chat_stream_helper)
    checks.run("openai: a refusal (finish_reason content_filter, message.refusal)", chat_refusal)
    checks.run("openai: a prompt over the context window raises BadRequestError context_length_exceeded", context_length)
    checks.run("openai: audio.transcriptions.create, a generated WAV (json, verbose_json, text)", transcription_wav)
    checks.run("openai: audio.transcriptions.create of an inbound voice note gives its transcript", transcription_of_inbound_media)
    checks.run("openai: an injected 429 raises openai.RateLimitError", rate_limit_error)
    checks.run("openai: the SDK's own retry gets past one 429", rate_limit_retried)
    checks.run("openai: a 429 on transcriptions raises openai.RateLimitError", transcription_rate_limit)
    checks.run("openai: insufficient_quota raises openai.RateLimitError with its code", insufficient_quota)
    checks.run("openai: an empty messages array raises openai.BadRequestError naming the param", bad_request)
    checks.run("openai: a bad key raises openai.AuthenticationError", unauthorized)


def twilio_checks(checks, shared, webhooks):
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=TwilioHttpClient(timeout=30))
    client.api.base_url = SANDBOX  # the Api domain's base URL: every Messages call goes there
    validator = RequestValidator(AUTH_TOKEN)
    # A sender of the test's own, allowed many messages a second, so that paging has enough to page.
    sender = "+1415555" + str(uuid.uuid4().int % 10_000).zfill(4)
    recipient = "+14155550100"
    created = {}

    def create():
        faults(sender_rates={sender: 1000})
        callback = f"{webhooks.base}/twilio/status?ref=sdk-{uuid.uuid4().hex[:8]}"
        message = client.messages.create(from_=sender, to=recipient, body="Your appointment is confirmed.", status_callback=callback)
        expect(message.sid.startswith("SM") and len(message.sid) == 34, f"sid {message.sid!r}")
        expect(message.account_sid == ACCOUNT_SID, f"account_sid {message.account_sid!r}")
        expect(message.status == "queued", f"status {message.status!r}")
        expect(message.to == recipient and message.from_ == sender, f"to {message.to!r} from {message.from_!r}")
        expect(message.num_segments == "1", f"num_segments {message.num_segments!r}")
        expect(message.date_created is not None and message.date_created.year >= 2020, f"date_created {message.date_created!r}")
        created.update(sid=message.sid, callback=callback)

    def status_callbacks():
        expect(created, "no message was created")
        calls = webhooks.wait(
            "the status callbacks", lambda r: r["path"].startswith("/twilio/status") and form(r).get("MessageSid") == created["sid"],
            count=2)
        statuses = [form(call)["MessageStatus"] for call in calls]
        expect(statuses == ["sent", "delivered"], f"statuses {statuses}")
        for call in calls:
            signature = header(call, "X-Twilio-Signature")
            valid = validator.validate(created["callback"], form(call), signature)
            expect(valid, f"a status callback's signature {signature!r} is not valid")

    def fetch():
        expect(created, "no message was created")
        message = client.messages(created["sid"]).fetch()
        expect(message.sid == created["sid"] and message.body == "Your appointment is confirmed.", f"fetched {message!r}")
        expect(message.status == "delivered", f"status {message.status!r} after the delivered callback")
        expect(message.date_sent is not None, "no date_sent")
        try:
            client.messages("SM" + "0" * 32).fetch()
        except TwilioRestException as error:
            expect(error.status == 404 and error.code == 20404, f"status {error.status} code {error.code}")
        else:
            raise AssertionError("fetching an unknown sid raised nothing")

    def list_pages():
        expect(created, "no message was created")
        sids = [created["sid"]]
        for n in range(11):
            if n == 6:
                faults(sender_rates={sender: 1000})  # settings change mid-run, as tests do; sids must not repeat
            sids.append(client.messages.create(from_=sender, to=recipient, body=f"Paged message {n}").sid)
        # A limit well above the twelve, so that a list that pages in circles ends (and fails) instead of hanging.
        listed = [m.sid for m in client.messages.list(from_=sender, page_size=5, limit=100)]
        expect(len(listed) == len(set(listed)), f"{len(listed) - len(set(listed))} messages listed twice")
        expect(set(listed) == set(sids), f"listed {len(listed)}; missing {set(sids) - set(listed)}, extra {set(listed) - set(sids)}")
        expect(listed == list(reversed(sids)), "not newest first")
        # The same by hand: three pages through next_page_uri, the last without one.
        page, pages, seen, last = client.messages.page(from_=sender, page_size=5), 0, [], None
        while page is not None and pages < 10:
            pages += 1
            seen += [m.sid for m in page]
            last, page = page, page.next_page()
        expect(pages == 3 and seen == listed, f"{pages} pages, {len(seen)} messages")
        back = [m.sid for m in last.previous_page()]
        expect(back == listed[5:10], "previous_page_uri from the last page is not the second page")
        limited = client.messages.list(from_=sender, to=recipient, limit=7, page_size=3)
        expect([m.sid for m in limited] == listed[:7], "limit=7 with page_size=3 did not give the newest seven")

    def create_refused():
        try:
            client.messages.create(from_=sender, to="+15005550001", body="hello")
        except TwilioRestException as error:
            expect(error.status == 400 and error.code == 21211, f"status {error.status} code {error.code}")
        else:
            raise AssertionError("an invalid 'To' raised nothing")

    def whatsapp():
        # Replies to a WhatsApp conversation go from the tenant's WhatsApp number to the contact's.
        contact = "whatsapp:+14155550123"
        message = client.messages.create(from_="whatsapp:" + sender, to=contact, body="Your appointment is confirmed.")
        expect(message.to == contact and message.from_ == "whatsapp:" + sender, f"to {message.to!r} from {message.from_!r}")
        expect(message.status == "queued", f"status {message.status!r}")
        try:
            client.messages.create(from_=sender, to=contact, body="an SMS number cannot write to WhatsApp")
        except TwilioRestException as error:
            expect(error.status == 400 and error.code == 21910, f"status {error.status} code {error.code}")
        else:
            raise AssertionError("an SMS From with a WhatsApp To raised nothing")

    def inbound():
        inbound_url = f"{webhooks.base}/twilio/inbound"
        faults(inbound_url=inbound_url)
        transcript = "Hi, this is Dana, I need to cancel Thursday."
        answer = control(
            "POST", "/_sandbox/inbound",
            {"from": "whatsapp:+14155550123", "to": "whatsapp:" + sender, "body": "", "profile_name": "Dana",
             "media": [{"content_type": "audio/ogg", "transcript": transcript, "duration_seconds": 3.5}]})
        expect(answer.get("status") == 200, f"the sandbox says {answer}")
        call = webhooks.wait(
            "the inbound webhook", lambda r: r["path"] == "/twilio/inbound" and form(r).get("MessageSid") == answer["sid"])[0]
        fields = form(call)
        signature = header(call, "X-Twilio-Signature")
        expect(validator.validate(inbound_url, fields, signature), f"the inbound webhook's signature {signature!r} is not valid")
        expect(not validator.validate(inbound_url, {**fields, "Body": "forged"}, signature), "a changed form still validates")
        expect(fields["AccountSid"] == ACCOUNT_SID and fields["NumMedia"] == "1", f"form {fields}")
        expect(fields["MediaContentType0"] == "audio/ogg" and fields["ProfileName"] == "Dana", f"form {fields}")
        shared["inbound"] = {"sid": fields["MessageSid"], "media_url": fields["MediaUrl0"], "transcript": transcript, "duration": 3.5}

    def media_list():
        inbound_message = shared.get("inbound")
        expect(inbound_message, "no inbound message (the inbound check failed)")
        items = client.messages(inbound_message["sid"]).media.list()
        expect(len(items) == 1, f"{len(items)} media")
        item = items[0]
        expect(inbound_message["media_url"].endswith("/Media/" + item.sid), f"media sid {item.sid!r} is not the one in MediaUrl0")
        expect(item.content_type == "audio/ogg" and item.parent_sid == inbound_message["sid"], f"media {item!r}")
        fetched = client.messages(inbound_message["sid"]).media(item.sid).fetch()
        expect(fetched.sid == item.sid and fetched.content_type == "audio/ogg", f"fetched {fetched!r}")

    def media_download():
        # As Spool downloads it: the media URL with the account's Basic auth answers a redirect to a
        # pre-signed storage URL, which is fetched without credentials.
        inbound_message = shared.get("inbound")
        expect(inbound_message, "no inbound message (the inbound check failed)")
        first = requests.get(inbound_message["media_url"], auth=(ACCOUNT_SID, AUTH_TOKEN), allow_redirects=False, timeout=30)
        expect(first.status_code in (301, 302, 307, 308) and first.headers.get("Location"), f"status {first.status_code}")
        file = requests.get(first.headers["Location"], timeout=30)
        expect(file.status_code == 200 and file.content.startswith(b"OggS"), f"storage answered {file.status_code}")
        expect(file.headers.get("Content-Type", "").startswith("audio/ogg"), f"Content-Type {file.headers.get('Content-Type')!r}")
        unauthenticated = requests.get(inbound_message["media_url"], allow_redirects=False, timeout=30)
        expect(unauthenticated.status_code == 401, f"without credentials: {unauthenticated.status_code}")
        shared["media"] = {"bytes": file.content, **inbound_message}

    try:
        checks.run("twilio: messages.create with a status callback", create)
        checks.run("twilio: status callbacks validate with RequestValidator", status_callbacks)
        checks.run("twilio: messages(sid).fetch, and 404 as TwilioRestException", fetch)
        checks.run("twilio: messages.list pages through next_page_uri, each message once", list_pages)
        checks.run("twilio: a refused create raises TwilioRestException with Twilio's code", create_refused)
        checks.run("twilio: messages.create to a whatsapp: address, and 21910 for a mixed pair", whatsapp)
        checks.run("twilio: an inbound webhook validates with RequestValidator", inbound)
        checks.run("twilio: messages(sid).media.list and media(sid).fetch", media_list)
        checks.run("twilio: media download through the storage redirect", media_download)
    finally:
        faults(sender_rates={}, inbound_url=None)


def google_checks(checks, webhooks):
    calendar_id = f"sdk-{uuid.uuid4().hex[:10]}@example.com"
    credentials = Credentials(
        token=None, refresh_token="1//0sdk-test-refresh-token", token_uri=SANDBOX + "/token", client_id="sdk-client.apps",
        client_secret="sdk-client-secret", scopes=["https://www.googleapis.com/auth/calendar.readonly"])
    state = {}

    def service():
        http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=30))
        return build(
            "calendar", "v3", http=http, static_discovery=True, cache_discovery=False,
            client_options={"api_endpoint": SANDBOX + "/calendar/v3/"})

    def refresh():
        credentials.refresh(google.auth.transport.requests.Request())
        expect(credentials.token and credentials.token.startswith("ya29."), f"token {credentials.token!r}")
        expect(credentials.expiry is not None and credentials.valid, f"expiry {credentials.expiry!r}")

    def refresh_refused():
        revoked = Credentials(
            token=None, refresh_token="revoked", token_uri=SANDBOX + "/token", client_id="sdk-client.apps",
            client_secret="sdk-client-secret")
        try:
            revoked.refresh(google.auth.transport.requests.Request())
        except google.auth.exceptions.RefreshError as error:
            expect("invalid_grant" in str(error), f"error {error}")
        else:
            raise AssertionError("refreshing a revoked token raised nothing")

    def full_sync():
        events = service().events()
        request, pages, ids = events.list(calendarId=calendar_id, maxResults=7, singleEvents=True), 0, []
        response = None
        while request is not None:
            response = request.execute()
            pages += 1
            ids += [item["id"] for item in response["items"]]
            request = events.list_next(request, response)
        seeded = control("GET", "/_sandbox/faults")["calendar_seeded_events"]
        expect(len(ids) == len(set(ids)) == seeded, f"{len(ids)} events ({len(set(ids))} distinct), expected {seeded}")
        expect(pages == -(-seeded // 7), f"{pages} pages")
        expect(response.get("nextSyncToken"), "no nextSyncToken on the last page")
        state["sync_token"] = response["nextSyncToken"]

    def incremental_sync():
        expect(state.get("sync_token"), "no sync token (the full sync failed)")
        control("POST", f"/_sandbox/calendars/{urllib.parse.quote(calendar_id)}/changes", {"add": 2, "update": 1, "delete": 1})
        events = service().events()
        request, items = events.list(calendarId=calendar_id, syncToken=state["sync_token"], maxResults=3), []
        response = None
        while request is not None:
            response = request.execute()
            items += response["items"]
            request = events.list_next(request, response)
        statuses = sorted(item["status"] for item in items)
        expect(statuses == ["cancelled", "confirmed", "confirmed", "confirmed"], f"statuses {statuses}")
        expect(response.get("nextSyncToken"), "no nextSyncToken")
        state["sync_token"] = response["nextSyncToken"]

    def gone():
        expect(state.get("sync_token"), "no sync token (the syncs failed)")
        faults(expire_sync_tokens=True)
        try:
            service().events().list(calendarId=calendar_id, syncToken=state["sync_token"]).execute()
        except HttpError as error:
            expect(error.resp.status == 410, f"status {error.resp.status}")
            reasons = [detail.get("reason") for detail in error.error_details or []]
            expect("fullSyncRequired" in reasons, f"reasons {reasons}")
        else:
            raise AssertionError("an expired sync token raised nothing")

    def refresh_on_401():
        faults(expire_tokens=True)
        before = credentials.token
        response = service().events().list(calendarId=calendar_id, maxResults=1).execute()
        expect(response["items"], "no events")
        expect(credentials.token != before, "the access token was not refreshed after the 401")

    def watch():
        channel_id = str(uuid.uuid4())
        address = f"{webhooks.base}/google/push"
        body = {"id": channel_id, "type": "web_hook", "address": address, "token": "tenant=sdk", "params": {"ttl": "3600"}}
        channel = service().events().watch(calendarId=calendar_id, body=body).execute()
        expect(channel["id"] == channel_id and channel["kind"] == "api#channel", f"channel {channel}")
        expires_in = int(channel["expiration"]) / 1000 - time.time()
        expect(channel.get("resourceId") and 3500 < expires_in <= 3600, f"channel {channel}")

        def ours(record):
            return record["path"] == "/google/push" and header(record, "X-Goog-Channel-ID") == channel_id

        sync = webhooks.wait("the sync notification", ours)[0]
        expect(header(sync, "X-Goog-Resource-State") == "sync", f"state {header(sync, 'X-Goog-Resource-State')!r}")
        expect(header(sync, "X-Goog-Channel-Token") == "tenant=sdk", "no channel token")
        expect(header(sync, "X-Goog-Resource-ID") == channel["resourceId"], "another resource id")
        control("POST", f"/_sandbox/calendars/{urllib.parse.quote(calendar_id)}/changes", {"add": 1})
        exists = webhooks.wait("the exists notification", ours, count=2)[1]
        expect(header(exists, "X-Goog-Resource-State") == "exists", f"state {header(exists, 'X-Goog-Resource-State')!r}")
        stopped = service().channels().stop(body={"id": channel_id, "resourceId": channel["resourceId"]}).execute()
        expect(not stopped, f"channels.stop answered {stopped!r}")

    checks.run("google: Credentials.refresh at the sandbox's token_uri", refresh)
    checks.run("google: a revoked refresh token raises RefreshError invalid_grant", refresh_refused)
    checks.run("google: events.list full sync pages with list_next to a nextSyncToken", full_sync)
    checks.run("google: events.list with syncToken gives the changes", incremental_sync)
    checks.run("google: an expired syncToken raises HttpError 410 fullSyncRequired", gone)
    checks.run("google: an expired access token is refreshed by the SDK on 401", refresh_on_401)
    checks.run("google: events.watch, its push notifications, channels.stop", watch)


def main():
    if not SANDBOX.startswith("http://"):
        print("usage: sdk_test.py http://127.0.0.1:PORT (or SPOOL_SANDBOX)", file=sys.stderr)
        return 2
    checks, shared, webhooks = Checks(), {}, Webhooks()
    try:
        # Twilio first: the OpenAI checks transcribe the voice note its inbound check made.
        twilio_checks(checks, shared, webhooks)
        openai_checks(checks, shared)
        google_checks(checks, webhooks)
    finally:
        webhooks.stop()
    print(f"{checks.count - len(checks.failed)} of {checks.count} checks passed", flush=True)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())

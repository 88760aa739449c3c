"""VLMAnnotator against a local OpenAI-compatible chat server (127.0.0.1, ephemeral port)."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cv2
import numpy as np
import pytest

from edgefuse.errors import ConfigError
from edgefuse.text.annotate import RuleAnnotator
from edgefuse.text.vlm import VLMAnnotator, system_prompt

GOOD = "Event Type: Low Light\nDescription: The road is dark.\nEvent Type: IR Noise\nDescription: Grainy sky."


@dataclass
class FakeServer:
    """What the fake server answers, and what it received."""

    url: str = ""
    status: int = 200
    answer: Any = GOOD  # str -> wrapped in a chat-completions body; dict -> sent as is
    delay_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    raw: bytes | None = None  # sent as the body instead of the JSON answer
    trickle_s: float = 0.0  # send the body one byte every trickle_s seconds


def _handler(state: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append({"path": self.path, **json.loads(body)})
            state.headers.append(dict(self.headers))
            if state.delay_s:
                state.release.wait(state.delay_s)  # the fixture sets it, so teardown is quick
            if state.status != 200:
                self.send_error(state.status, "boom")
                return
            if isinstance(state.answer, str):
                payload = {
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": state.answer}}]
                }
            else:
                payload = state.answer
            data = json.dumps(payload).encode() if state.raw is None else state.raw
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if not state.trickle_s:
                self.wfile.write(data)
                return
            for i in range(len(data)):
                if state.release.wait(state.trickle_s):
                    return
                try:
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()
                except OSError:  # the client gave up
                    return

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

    return Handler


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """urllib honours *_proxy variables; the fake server is on loopback, so bypass them."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    state = FakeServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _decode_data_url(url: str) -> np.ndarray:
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    return cv2.imdecode(np.frombuffer(base64.b64decode(url[len(prefix) :]), np.uint8), cv2.IMREAD_UNCHANGED)


def test_good_answer_and_request_format(server, clean_pair):
    annotator = VLMAnnotator(server.url, "qwen2-vl-7b", api_key="secret", timeout=5)
    annotation = annotator.annotate(clean_pair)
    assert annotation.events == ("low_light", "ir_noise")
    assert annotation.descriptions == ("The road is dark.", "Grainy sky.")
    assert annotation.source == "vlm"

    (req,) = server.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["model"] == "qwen2-vl-7b" and req["max_tokens"] == 128
    system, user = req["messages"]
    assert system == {"role": "system", "content": system_prompt("ivf")}
    assert user["role"] == "user"
    kinds = [part["type"] for part in user["content"]]
    assert kinds == ["image_url", "image_url", "text"]
    assert "first image is visible" in user["content"][2]["text"]
    vis = _decode_data_url(user["content"][0]["image_url"]["url"])
    ir = _decode_data_url(user["content"][1]["image_url"]["url"])
    assert np.array_equal(cv2.cvtColor(vis, cv2.COLOR_BGR2RGB), clean_pair.vis)  # visible first, lossless
    assert np.array_equal(ir, clean_pair.ir)
    assert server.headers[0]["Authorization"] == "Bearer secret"
    assert server.headers[0]["Content-Type"] == "application/json"


def test_system_prompt_lists_the_vocabulary():
    text = system_prompt("medical")
    for name in ("Contrast Enhancement", "Artifact Reduction", "Event Type:", "Description:"):
        assert name in text


def test_medical_request(server, medical_pair):
    server.answer = "Event Type: Structure Consistency\nDescription: Keep the gyri."
    annotation = VLMAnnotator(server.url, "m", timeout=5).annotate(medical_pair, task="medical")
    assert annotation.events == ("structure_consistency",)
    assert "CT, PET or SPECT" in server.requests[0]["messages"][1]["content"][2]["text"]


def test_list_valued_and_partly_unknown_answers(server, clean_pair):
    server.answer = "Event Type: Low Light, Haze and Motion Blur\nDescription: x"
    annotation = VLMAnnotator(server.url, "m", timeout=5).annotate(clean_pair)
    assert annotation.events == ("low_light", "motion_blur") and annotation.source == "vlm"


def test_content_as_list_of_parts(server, clean_pair):
    server.answer = {"choices": [{"message": {"content": [{"type": "text", "text": "Event Type: Blur"}]}}]}
    assert VLMAnnotator(server.url, "m", timeout=5).annotate(clean_pair).events == ("motion_blur",)


def _expect_fallback(server, pair, caplog, match: str, timeout: float = 3.0) -> None:
    # a generous timeout except where the timeout itself is tested: a loaded 2-core machine can take
    # longer than 0.3 s to answer from the local test server
    annotator = VLMAnnotator(server.url, "m", timeout=timeout)
    with caplog.at_level(logging.WARNING, logger="edgefuse.text.vlm"):
        annotation = annotator.annotate(pair)
    assert annotation.source == "fallback"
    assert annotation.events == RuleAnnotator().annotate(pair).events
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert match in warnings[0].getMessage()


def test_unknown_event_falls_back(server, night_pair, caplog):
    server.answer = "Event Type: Haze\nDescription: Foggy."
    _expect_fallback(server, night_pair, caplog, "no known event")


def test_malformed_answer_falls_back(server, night_pair, caplog):
    server.answer = "I see two pictures of a street."
    _expect_fallback(server, night_pair, caplog, "no 'Event Type:' line")


def test_malformed_json_body_falls_back(server, night_pair, caplog):
    server.answer = {"error": "no choices"}
    _expect_fallback(server, night_pair, caplog, "unusable answer")


def test_http_500_falls_back(server, night_pair, caplog):
    server.status = 500
    _expect_fallback(server, night_pair, caplog, "HTTP 500")


def test_slow_server_times_out(server, night_pair, caplog):
    server.delay_s = 3.0
    _expect_fallback(server, night_pair, caplog, "timed out", timeout=0.3)


def test_unreachable_server_stops_after_max_failures(clean_pair, caplog):
    with socket.socket() as probe:  # a loopback port that was free a moment ago: refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    annotator = VLMAnnotator(f"http://127.0.0.1:{port}/v1", "m", timeout=0.5, max_failures=2)
    with caplog.at_level(logging.WARNING, logger="edgefuse.text.vlm"):
        sources = [annotator.annotate(clean_pair).source for _ in range(4)]
    assert sources == ["fallback"] * 4
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and "not asking it again" in warnings[1]


def test_bad_arguments():
    with pytest.raises(ConfigError, match="must start with http"):
        VLMAnnotator("127.0.0.1:8000/v1", "m")
    with pytest.raises(ConfigError, match="timeout must be > 0"):
        VLMAnnotator("http://127.0.0.1:1/v1", "m", timeout=0)
    assert VLMAnnotator("http://h/v1/", "Qwen/Qwen2-VL-7B-Instruct").name.startswith("vlm-qwen-qwen2-vl-7b-instruct-")


# ----------------------------------------------------------------------------- hostile or odd servers
def _timed_fallback(server, pair, caplog, match: str, limit_s: float, **kwargs: Any) -> None:
    start = time.monotonic()
    annotator = VLMAnnotator(server.url, "m", **{"timeout": 0.5, **kwargs})
    with caplog.at_level(logging.WARNING, logger="edgefuse.text.vlm"):
        annotation = annotator.annotate(pair)
    elapsed = time.monotonic() - start
    assert annotation.source == "fallback" and annotation.events == RuleAnnotator().annotate(pair).events
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and match in warnings[0], warnings
    assert elapsed < limit_s, f"took {elapsed:.2f} s"


def test_deeply_nested_json_falls_back(server, night_pair, caplog):
    server.raw = b"[" * 200_000 + b"]" * 200_000
    _timed_fallback(server, night_pair, caplog, "nested too deeply", 5.0, timeout=5)


def test_json_that_is_not_an_object_falls_back(server, night_pair, caplog):
    server.raw = b'"just a string"'
    _timed_fallback(server, night_pair, caplog, "not an object", 5.0, timeout=5)


def test_oversized_answer_falls_back(server, night_pair, caplog):
    server.raw = b'{"choices": "' + b"x" * 300_000 + b'"}'
    _timed_fallback(server, night_pair, caplog, "larger than 100000 bytes", 5.0, timeout=5,
                    max_response_bytes=100_000)


def test_trickling_body_hits_the_overall_deadline(server, night_pair, caplog):
    server.trickle_s = 0.05  # 20 bytes/s: every single read is quick, the whole answer takes ~10 s
    _timed_fallback(server, night_pair, caplog, "timed out", 2.0, timeout=0.5)


def test_timeout_is_configurable_from_the_training_config(server, night_pair):
    from edgefuse.train.config import TrainConfig
    from edgefuse.text.priors import create_annotator

    cfg = TrainConfig(data=("pairs",), annotator=server.url, vlm_timeout=0.25)
    assert create_annotator(cfg.annotator, cfg.vlm_model, cfg.vlm_timeout).timeout == 0.25
    with pytest.raises(ConfigError, match="vlm_timeout"):
        TrainConfig(vlm_timeout=0)


def test_cache_key_includes_the_endpoint_but_no_password():
    a = VLMAnnotator("http://alice:hunter2@10.0.0.1:8000/v1", "qwen")
    b = VLMAnnotator("http://10.0.0.2:8000/v1", "qwen")
    c = VLMAnnotator("http://alice:other@10.0.0.1:8000/v1", "qwen")
    assert a.name != b.name and a.name.startswith("vlm-qwen-")
    assert a.name == c.name  # the key is the redacted endpoint: the password is not part of it
    assert "hunter2" not in a.name and "hunter2" not in a.endpoint and "alice:***@" in a.endpoint


def test_userinfo_is_sent_as_basic_auth_and_never_logged(server, night_pair, caplog):
    url = server.url.replace("http://", "http://alice:hunter2@")
    server.status = 500
    annotator = VLMAnnotator(url, "m", timeout=5)
    with caplog.at_level(logging.DEBUG):
        assert annotator.annotate(night_pair).source == "fallback"
    assert server.headers[0]["Authorization"] == "Basic " + base64.b64encode(b"alice:hunter2").decode()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "alice:***@127.0.0.1" in text and "hunter2" not in text

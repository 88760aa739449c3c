"""Event annotation by a vision-language model behind an OpenAI-compatible chat API.

DTPF (arXiv 2504.07029; ``anno/ann_with_qwen.py`` as described in PAPER_SPEC 6.2) asks
Qwen2-VL-7B-Instruct, offline, for "Event Type:" / "Description:" line pairs about each
image pair (visible first, then infrared; or CT/PET/SPECT, then MRI). Here the model runs
behind any server that speaks the OpenAI chat-completions format (``POST
{base_url}/chat/completions`` with ``image_url`` content parts holding data URLs), such as
vLLM, llama.cpp's server or Ollama. Only the standard library is used.

Whatever goes wrong (connection refused, HTTP error, time-out, an answer without a known
event, an answer too large or too deeply nested) the pair gets the rule-based annotation with
``source="fallback"`` and one warning is logged; after ``max_failures`` failures in a row the
server is not asked again. ``timeout`` bounds the whole request (connect, headers and body: a
server that sends one byte a second is cut off), ``max_response_bytes`` the answer size.
A ``user:password@`` in the URL is sent as HTTP Basic auth and appears in no log, name or cache.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import re
import socket
import threading
import urllib.parse
import urllib.request
from typing import Any

import cv2
import numpy as np

from edgefuse.data.pairs import LoadedPair
from edgefuse.errors import ConfigError
from edgefuse.secrets import redact
from edgefuse.text.annotate import Annotation, Annotator, RuleAnnotator, annotation_from_names
from edgefuse.text.events import DISPLAY_NAMES, VOCABULARY, check_task, event_name
from edgefuse.text.prompts import parse_event_lines
from edgefuse.files import sha256_hex

logger = logging.getLogger(__name__)

USER_TEXT = {
    "ivf": "Describe the image pair: the first image is visible, the second is infrared.",
    "medical": "Describe the image pair: the first image is CT, PET or SPECT, the second is MRI.",
}
_MODALITIES = {
    "ivf": "a visible (RGB) image and an infrared image of the same scene",
    "medical": "a CT, PET or SPECT image and an MRI image of the same slice",
}
_PURPOSE = {
    "ivf": "the degradations that an infrared-visible image fusion method has to handle",
    "medical": "what a medical image fusion method should emphasise for this pair",
}
_HINTS = {
    "low_light": "the visible image is dark or taken at night",
    "over_exposure": "bright areas of the visible image are washed out or clipped",
    "ir_low_contrast": "the infrared image is flat, targets barely stand out",
    "ir_noise": "the infrared image is grainy",
    "motion_blur": "the visible image is blurred by motion or defocus",
    "sensor_artifact": "stripes, fixed patterns or other sensor artifacts",
    "high_noise": "the visible image is grainy",
    "contrast_enhancement": "tissue contrast is weak",
    "edge_preservation": "sharp anatomical boundaries (e.g. bone) must be kept",
    "noise_suppression": "an image is noisy",
    "detail_enhancement": "fine soft-tissue detail must be brought out",
    "structure_consistency": "the MRI anatomy must stay visible under the functional colours",
    "artifact_reduction": "stripes, rings or other acquisition artifacts",
}
# A value such as "Low Light, High Noise" or "Low Light and Noise" is split into names.
_LIST_SEPARATORS = re.compile(r"\s*(?:,|;|/|&|\band\b|\+)\s*", re.I)


def system_prompt(task: str = "ivf") -> str:
    """The instruction sent as the system message (written for edgefuse, in DTPF's format)."""
    check_task(task)
    names = "\n".join(f"- {DISPLAY_NAMES[e]}: {_HINTS[e]}" for e in VOCABULARY[task])
    return (
        f"You inspect {_MODALITIES[task]} and report {_PURPOSE[task]}.\n"
        f"Choose event types only from this list:\n{names}\n"
        f"- {DISPLAY_NAMES['general']}: none of the above applies\n"
        "For every event that applies, most important first, answer with exactly two lines:\n"
        "Event Type: <one name from the list>\n"
        "Description: <one short sentence about where and how it shows in the images>\n"
        "Report at most three events. Write nothing else."
    )


def png_data_url(img: np.ndarray) -> str:
    """Encode an RGB (HxWx3) or grey (HxW) uint8 image as a ``data:image/png;base64`` URL."""
    bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img
    ok, buf = cv2.imencode(".png", bgr)
    if not ok:
        raise ConfigError(f"OpenCV could not PNG-encode an image of shape {img.shape} and type {img.dtype}")
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _answer_text(body: dict[str, Any]) -> str:
    """``choices[0].message.content`` as text (a string, or a list of text parts)."""
    content = body["choices"][0]["message"]["content"]
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    if not isinstance(content, str):
        raise ValueError(f"message content is {type(content).__name__}, not text")
    return content


def _split_names(values: list[tuple[str, str | None]], task: str) -> tuple[list[str], list[str | None]]:
    """Event names of the parsed lines; a value that is no known name is split as a list."""
    names: list[str] = []
    descs: list[str | None] = []
    for value, desc in values:
        parts = [value] if event_name(value, task) else _LIST_SEPARATORS.split(value)
        for part in parts:
            if part.strip():
                names.append(part)
                descs.append(desc)
    return names, descs


class VLMAnnotator:
    """Annotate pairs with a chat model on an OpenAI-compatible server; rules as fallback.

    Args:
        base_url: server root including the API prefix, e.g. ``http://127.0.0.1:8000/v1``.
        model: model name the server knows, e.g. ``Qwen/Qwen2-VL-7B-Instruct``.
        api_key: sent as ``Authorization: Bearer <key>`` when given.
        timeout: seconds for the whole request: connection, headers and the complete answer.
        max_tokens: answer length limit (DTPF: 128 new tokens).
        fallback: annotator used when the model fails (default: :class:`RuleAnnotator`).
        max_failures: after this many failures in a row, stop asking the server.
        max_response_bytes: a longer answer body is refused (a fallback, not an out-of-memory).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_tokens: int = 128,
        fallback: Annotator | None = None,
        max_failures: int = 3,
        max_response_bytes: int = 1 << 20,
    ) -> None:
        if not re.match(r"^https?://", base_url):
            raise ConfigError(
                f"base_url {base_url!r} must start with http:// or https://, e.g. http://127.0.0.1:8000/v1"
            )
        if not timeout > 0 or timeout == float("inf"):
            raise ConfigError(f"timeout must be > 0 seconds, got {timeout}")
        if max_response_bytes < 1:
            raise ConfigError(f"max_response_bytes must be >= 1, got {max_response_bytes}")
        self.url = base_url.rstrip("/") + "/chat/completions"  # in memory only: it may hold a password
        self.endpoint = redact(self.url)  # what logs, names and caches see
        self.max_response_bytes = max_response_bytes
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.fallback = fallback or RuleAnnotator()
        self.max_failures = max_failures
        self.failures = 0
        # the cache is per endpoint and model: another server's answers are not reused
        server = sha256_hex(self.endpoint, 10)
        self.name = "vlm-" + (re.sub(r"[^A-Za-z0-9.]+", "-", model).strip("-").lower() or "model") + f"-{server}"
        self.version = f"1+{self.fallback.name}{self.fallback.version}"

    def request_body(self, pair: LoadedPair, task: str = "ivf") -> dict[str, Any]:
        """The JSON body sent for ``pair``: system prompt, then visible, IR and the question."""
        check_task(task)
        content = [
            {"type": "image_url", "image_url": {"url": png_data_url(pair.vis)}},
            {"type": "image_url", "image_url": {"url": png_data_url(pair.ir)}},
            {"type": "text", "text": USER_TEXT[task]},
        ]
        return {
            "model": self.model,
            "messages": [
                {"role": "system", "content": system_prompt(task)},
                {"role": "user", "content": content},
            ],
            "max_tokens": self.max_tokens,
            "temperature": 0.0,
        }

    def ask(self, pair: LoadedPair, task: str = "ivf") -> str:
        """Send one pair and return the model's raw answer text (raises on any failure)."""
        data = json.dumps(self.request_body(pair, task)).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        parts = urllib.parse.urlsplit(self.url)
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        elif parts.username is not None:
            creds = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(creds.encode("utf-8")).decode("ascii")
        raw = post_bounded(self.url, data, headers, self.timeout, self.max_response_bytes)
        body = json.loads(raw.decode("utf-8"))
        if not isinstance(body, dict):
            raise ValueError(f"the answer is a JSON {type(body).__name__}, not an object")
        return _answer_text(body)

    def _from_answer(self, answer: str, task: str) -> Annotation:
        names, descs = _split_names(parse_event_lines(answer), task)
        if not names:
            raise ValueError(f"no 'Event Type:' line in the answer {answer[:120]!r}")
        annotation, unknown = annotation_from_names(names, descs, task, "vlm")
        if annotation is None:
            raise ValueError(f"no known event in the answer (unknown: {', '.join(unknown)})")
        if unknown:
            logger.info("left out unknown events %s (task %s)", ", ".join(map(repr, unknown)), task)
        return annotation

    def annotate(self, pair: LoadedPair, task: str = "ivf") -> Annotation:
        """Ask the model about ``pair``; on any failure return the fallback's annotation."""
        check_task(task)
        if self.failures >= self.max_failures:
            return self._fallback(pair, task, None)
        try:
            annotation = self._from_answer(self.ask(pair, task), task)
        except HTTPStatusError as e:
            return self._fallback(pair, task, f"HTTP {e.code} {e.reason}")
        except (TimeoutError, OSError, http.client.HTTPException) as e:
            return self._fallback(pair, task, f"{type(e).__name__}: {e}")
        except RecursionError:
            return self._fallback(pair, task, "unusable answer: JSON nested too deeply")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:  # JSON or answer format
            return self._fallback(pair, task, f"unusable answer: {str(e)[:200]}")
        self.failures = 0
        return annotation

    def _fallback(self, pair: LoadedPair, task: str, reason: str | None) -> Annotation:
        if reason is not None:
            self.failures += 1
            stop = self.failures >= self.max_failures
            logger.warning(
                "%s: chat model %r at %s failed (%s); using %s annotation%s",
                pair.name,
                self.model,
                self.endpoint,
                redact(reason),
                self.fallback.name,
                f"; {self.failures} failures in a row, not asking it again" if stop else "",
            )
        rules = self.fallback.annotate(pair, task)
        return Annotation(rules.events, rules.descriptions, "fallback", rules.stats)


class HTTPStatusError(OSError):
    """A reply other than 200 OK."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"HTTP {code} {reason}")
        self.code, self.reason = code, reason


def _connection(url: urllib.parse.SplitResult, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    """A connection for ``url`` (through the *_proxy server the environment names, if any) and the request target."""
    host, port = url.hostname or "", url.port
    target = url.path + (f"?{url.query}" if url.query else "")
    https = url.scheme == "https"
    proxy = None if urllib.request.proxy_bypass(host) else urllib.request.getproxies().get(url.scheme)
    cls = http.client.HTTPSConnection if https else http.client.HTTPConnection
    if not proxy:
        return cls(host, port, timeout=timeout), target
    p = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if https:
        conn = http.client.HTTPSConnection(p.hostname or "", p.port, timeout=timeout)
        conn.set_tunnel(host, port)
        return conn, target
    netloc = host + (f":{port}" if port else "")
    return http.client.HTTPConnection(p.hostname or "", p.port, timeout=timeout), f"http://{netloc}{target}"


def post_bounded(url: str, data: bytes, headers: dict[str, str], timeout: float, max_bytes: int) -> bytes:
    """POST ``data`` and return the reply body, within ``timeout`` seconds overall and ``max_bytes``.

    A timer shuts the socket down at the deadline, so neither a server that never answers nor
    one that trickles its headers or body byte by byte holds the caller longer than ``timeout``
    (plus the connect, itself bounded by ``timeout``).

    Raises:
        TimeoutError: no complete answer within ``timeout``.
        HTTPStatusError: a status other than 200.
        ValueError: a body longer than ``max_bytes``.
        OSError, http.client.HTTPException: connection failures.
    """
    conn, target = _connection(urllib.parse.urlsplit(url), timeout)
    expired = threading.Event()
    held: list[socket.socket] = []  # the connection drops its socket once a closing response starts

    def abort() -> None:
        expired.set()
        for sock in held:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(timeout, abort)
    timer.daemon = True
    timer.start()
    try:
        conn.connect()
        held.append(conn.sock)
        if expired.is_set():  # the deadline passed while connecting
            raise TimeoutError
        conn.request("POST", target, body=data, headers=headers)
        response = conn.getresponse()
        if response.status != 200:
            raise HTTPStatusError(response.status, response.reason)
        chunks, size = [], 0
        while True:
            chunk = response.read1(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise ValueError(f"the answer is larger than {max_bytes} bytes")
            chunks.append(chunk)
    except (OSError, http.client.HTTPException):
        if expired.is_set():
            raise TimeoutError(f"timed out: no complete answer within {timeout:g} s") from None
        raise
    finally:
        timer.cancel()
        conn.close()
    if expired.is_set():  # the shutdown can also look like a clean end of the body
        raise TimeoutError(f"timed out: no complete answer within {timeout:g} s")
    return b"".join(chunks)

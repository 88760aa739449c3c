"""The text DTPF feeds its text encoder, and the parsing of "Event Type:" answers.

DTPF (arXiv 2504.07029; its ``utils/text_utils.py`` as described in PAPER_SPEC 6.2) throws
the chat model's descriptions away before encoding: each event becomes the block
``"Event Type: X\\nDescription: This image has X condition."``, and blocks are dropped from
the end while the text has more than 70 whitespace-separated words, so that it fits CLIP's
77-token context. :func:`prompt_text` reproduces that string.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from edgefuse.text.events import GENERIC_EVENT, check_task, display_name

MAX_PROMPT_WORDS = 70
_BLOCK = "Event Type: {name}\nDescription: This image has {name} condition."
_SHORT_BLOCK = "Event Type: {name}\nDescription: Image degraded."

# "Event Type: Low Light", "**Event Type:** Low Light", "1. Event type - Low Light"
_EVENT_LINE = re.compile(r"^[\s*#>\-\d.)]*event[\s_]*type[\s*]*[:：\-]+[\s*]*(?P<value>.+?)[\s*]*$", re.I)
_DESCRIPTION_LINE = re.compile(r"^[\s*#>\-\d.)]*description[\s*]*[:：\-]+[\s*]*(?P<value>.*?)[\s*]*$", re.I)


def prompt_text(events: Sequence[str], task: str = "ivf") -> str:
    """DTPF's prompt for a list of events (names or keys; unknown names are kept as written).

    Args:
        events: event names in order of importance; an empty list stands for the generic
            event (``"General Fusion"``), so every sample gets a text.
        task: ``"ivf"`` or ``"medical"`` (selects the aliases used to spell known events).

    Returns:
        Blocks ``"Event Type: X\\nDescription: This image has X condition."`` joined by
        newlines, with blocks dropped from the end while the text exceeds 70 words. If even
        one block is longer, its description is shortened to ``"Image degraded."``.
    """
    check_task(task)
    names = [display_name(e, task) for e in events] or [display_name(GENERIC_EVENT, task)]
    blocks = [_BLOCK.format(name=n) for n in names]
    while len(blocks) > 1 and len("\n".join(blocks).split()) > MAX_PROMPT_WORDS:
        blocks.pop()
    if len(blocks[0].split()) > MAX_PROMPT_WORDS:
        blocks = [_SHORT_BLOCK.format(name=names[0])]
    return "\n".join(blocks)


def parse_event_lines(answer: str) -> list[tuple[str, str | None]]:
    """Pull ``(event, description)`` pairs out of a chat model's answer.

    Each "Event Type:" line starts a pair; the next "Description:" line before another
    event line is its description. Markdown decoration and list numbers are tolerated.
    Returns an empty list when no line matches.
    """
    found: list[tuple[str, str | None]] = []
    for line in answer.splitlines():
        event = _EVENT_LINE.match(line)
        if event:
            found.append((event.group("value"), None))
            continue
        desc = _DESCRIPTION_LINE.match(line)
        if desc and found and found[-1][1] is None:
            found[-1] = (found[-1][0], desc.group("value") or None)
    return found

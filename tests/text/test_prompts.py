"""DTPF prompt strings and parsing of "Event Type:" answers."""

from __future__ import annotations

from edgefuse.text.prompts import MAX_PROMPT_WORDS, parse_event_lines, prompt_text


def test_prompt_blocks():
    assert (
        prompt_text(["low_light"])
        == "Event Type: Low Light\nDescription: This image has Low Light condition."
    )
    text = prompt_text(["Low Light", "high noise"])
    assert text.split("\n") == [
        "Event Type: Low Light",
        "Description: This image has Low Light condition.",
        "Event Type: High Noise",
        "Description: This image has High Noise condition.",
    ]


def test_prompt_keeps_unknown_names_and_fills_empty():
    assert prompt_text(["Haze"]).startswith("Event Type: Haze\n")
    assert prompt_text([]).startswith("Event Type: General Fusion\n")
    assert prompt_text(["contrast_enhancement"], "medical").startswith("Event Type: Contrast Enhancement")


def test_prompt_truncated_from_the_end_to_70_words():
    events = [
        "low_light",
        "over_exposure",
        "ir_low_contrast",
        "ir_noise",
        "motion_blur",
        "sensor_artifact",
        "high_noise",
    ]
    text = prompt_text(events)
    assert len(text.split()) <= MAX_PROMPT_WORDS
    full = "\n".join(prompt_text([e]) for e in events)
    assert len(full.split()) > MAX_PROMPT_WORDS  # so something was dropped ...
    assert full.startswith(text)  # ... from the end
    kept = len(text.split("\n")) // 2
    one_more = "\n".join(prompt_text([e]) for e in events[: kept + 1])
    assert len(one_more.split()) > MAX_PROMPT_WORDS  # only as many dropped as needed


def test_single_overlong_event_gets_short_description():
    name = " ".join(["word"] * 40)
    assert prompt_text([name]) == f"Event Type: {name}\nDescription: Image degraded."


def test_parse_event_lines():
    answer = (
        "Event Type: Low Light\nDescription: The street is dark.\n\n"
        "**Event Type:** Over-Exposure\n**Description:** Headlights are clipped.\n"
        "1. Event type - Sensor Artifact\nsome chatter\n"
    )
    assert parse_event_lines(answer) == [
        ("Low Light", "The street is dark."),
        ("Over-Exposure", "Headlights are clipped."),
        ("Sensor Artifact", None),
    ]
    assert parse_event_lines("I cannot see any images.") == []
    assert parse_event_lines("Description: orphan") == []

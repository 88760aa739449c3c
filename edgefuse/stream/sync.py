"""Pairing IR and visible frames by timestamp: tolerance, clock offset, drop accounting.

The idea is ROS ``message_filters.ApproximateTimeSynchronizer`` (per-stream queues, a
``slop`` tolerance, a per-stream ``queue_offset``) narrowed to two streams and made exactly
deterministic: a frame pairs with the *mutually nearest* frame of the other stream within
the tolerance, each frame is used at most once, and a frame that can no longer find a
partner is counted as dropped. The pairer only looks at timestamps, never at a clock, so it
is a pure function of the frames pushed into it (and their order per side).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from edgefuse.errors import ConfigError
from edgefuse.stream.frames import Frame

SIDES = ("ir", "vis")


@dataclass(frozen=True)
class FramePair:
    """A matched IR/visible pair; ``skew_ms`` is (IR time + offset) - visible time."""

    ir: Frame
    vis: Frame
    skew_ms: float
    seq: int
    t_pair: float = field(default_factory=time.monotonic)  # when the pair became certain


@dataclass
class PairStats:
    """Counts kept by a ``Pairer``: ``frames_in[s] == pairs + dropped[s] + discarded[s] + pending[s]``.

    ``dropped`` are frames that found no partner (unpaired, out of order, queue overflow);
    ``discarded`` are frames read ahead and thrown away because the stream stopped
    (``--max-frames``, a signal, an error), which are not a synchronisation problem.
    """

    frames_in: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIDES, 0))
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIDES, 0))
    discarded: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIDES, 0))
    late: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIDES, 0))
    pairs: int = 0
    skew_max_ms: float = 0.0
    skew_sum_ms: float = 0.0

    @property
    def skew_mean_ms(self) -> float:
        return self.skew_sum_ms / self.pairs if self.pairs else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"pairs": self.pairs, "dropped_ir": self.dropped["ir"], "dropped_vis": self.dropped["vis"],
                "skew_ms": {"max": round(self.skew_max_ms, 3), "mean": round(self.skew_mean_ms, 3)},
                "frames_ir": self.frames_in["ir"], "frames_vis": self.frames_in["vis"],
                "late_ir": self.late["ir"], "late_vis": self.late["vis"],
                "discarded_ir": self.discarded["ir"], "discarded_vis": self.discarded["vis"]}


class Pairer:
    """Matches IR and visible frames whose timestamps agree within ``tolerance_ms``.

    Args:
        tolerance_ms: largest |IR time + offset - visible time| of a pair.
        offset_ms: added to every IR timestamp before matching (the IR clock's lag behind the
            visible clock; a thermal core's fixed pipeline delay is a negative offset).
        max_queue: frames held per side while waiting for a partner; the oldest is dropped
            beyond that (bounds memory when one camera dies).
        max_pairs: stop after this many pairs (0 = no limit); later frames are dropped.

    ``push`` returns the pairs that became certain. A pair (a, b) is emitted once no frame
    still to come can be nearer to either of them, so a live pair waits at most about one
    frame period of the other stream. ``end(side)`` marks a side as finished.
    """

    def __init__(self, tolerance_ms: float = 20.0, offset_ms: float = 0.0, max_queue: int = 64,
                 max_pairs: int = 0) -> None:
        if tolerance_ms < 0:
            raise ConfigError(f"tolerance {tolerance_ms} ms must be >= 0")
        if max_queue < 2:
            raise ConfigError(f"max_queue={max_queue} must be >= 2")
        self.tol = tolerance_ms / 1000.0
        self.offset = offset_ms / 1000.0
        self.max_queue = max_queue
        self.max_pairs = max_pairs
        self.stats = PairStats()
        self._q: dict[str, deque[tuple[float, Frame]]] = {s: deque() for s in SIDES}
        self._mark = dict.fromkeys(SIDES, float("-inf"))  # newest aligned time seen per side
        self._ended = dict.fromkeys(SIDES, False)

    @property
    def full(self) -> bool:
        """True once ``max_pairs`` pairs were made."""
        return bool(self.max_pairs) and self.stats.pairs >= self.max_pairs

    @property
    def exhausted(self) -> bool:
        """True once no further pair is possible (a side ended with nothing left waiting)."""
        return self.full or any(self._ended[s] and not self._q[s] for s in SIDES)

    def aligned(self, side: str, frame: Frame) -> float:
        """The frame's timestamp on the visible clock (IR times get the offset)."""
        return frame.ts + (self.offset if side == "ir" else 0.0)

    @property
    def pending(self) -> dict[str, int]:
        return {s: len(q) for s, q in self._q.items()}

    def push(self, side: str, frame: Frame) -> list[FramePair]:
        """Add one frame of ``side`` (``ir`` or ``vis``); return the pairs now certain."""
        if side not in SIDES:
            raise ConfigError(f"side {side!r} must be 'ir' or 'vis'")
        st = self.stats
        st.frames_in[side] += 1
        t = self.aligned(side, frame)
        if self.full or self._ended[side]:
            st.discarded[side] += 1
            return []
        if t <= self._mark[side]:
            # an out-of-order or duplicate timestamp would break "never pair twice"; drop it
            st.late[side] += 1
            st.dropped[side] += 1
            return []
        self._mark[side] = t
        q = self._q[side]
        q.append((t, frame))
        if len(q) > self.max_queue:
            q.popleft()
            st.dropped[side] += 1
        return self._match()

    def reject(self, side: str) -> None:
        """Count a frame of ``side`` that arrived but is not used because the stream is stopping."""
        self.stats.frames_in[side] += 1
        self.stats.discarded[side] += 1

    def end(self, side: str) -> list[FramePair]:
        """Mark ``side`` as finished; pairs that waited for its next frame are decided."""
        self._ended[side] = True
        return self._match()

    def discard(self) -> None:
        """Drop every frame still waiting (counted as discarded), when the stream stops."""
        for side, q in self._q.items():
            self.stats.discarded[side] += len(q)
            q.clear()

    def _drop_head(self, side: str) -> None:
        self._q[side].popleft()
        self.stats.dropped[side] += 1

    def _match(self) -> list[FramePair]:
        out: list[FramePair] = []
        while not self.full:
            step = self._step()
            if step is None:
                break
            if isinstance(step, FramePair):
                out.append(step)
        if self.full:
            self.discard()
        return out

    def _step(self) -> FramePair | bool | None:
        """One decision: a pair, True (a frame dropped), or None (wait for more frames)."""
        qi, qv = self._q["ir"], self._q["vis"]
        if not qi or not qv:
            return self._step_one_sided()
        a, b = qi[0][0], qv[0][0]
        if a < b - self.tol:
            self._drop_head("ir")
            return True
        if b < a - self.tol:
            self._drop_head("vis")
            return True
        # within tolerance: the earlier frame's nearest partner is the other head; the later head
        # may still prefer the next frame of the earlier frame's stream, if that one is nearer
        early = "ir" if a <= b else "vis"
        later_t, d = max(a, b), abs(a - b)
        q_early = self._q[early]
        if len(q_early) > 1:
            if abs(q_early[1][0] - later_t) < d:
                self._drop_head(early)
                return True
        elif d > 0 and not self._ended[early]:
            return None  # the next frame of the earlier stream could still be nearer
        return self._emit()

    def _step_one_sided(self) -> bool | None:
        for empty, other in (("ir", "vis"), ("vis", "ir")):
            if self._q[empty] or not self._q[other]:
                continue
            # frames still to come on the empty side are later than its newest timestamp
            if self._ended[empty] or self._mark[empty] >= self._q[other][0][0] + self.tol:
                self._drop_head(other)
                return True
        return None

    def _emit(self) -> FramePair:
        (a, ir), (b, vis) = self._q["ir"].popleft(), self._q["vis"].popleft()
        st = self.stats
        skew = (a - b) * 1000.0
        st.pairs += 1
        st.skew_max_ms = max(st.skew_max_ms, abs(skew))
        st.skew_sum_ms += abs(skew)
        return FramePair(ir, vis, skew, st.pairs - 1)


__all__ = ["SIDES", "FramePair", "PairStats", "Pairer"]

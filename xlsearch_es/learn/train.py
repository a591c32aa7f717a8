"""``xlsearch train``: fine-tune the encoder on a shop's own judgments.

Contrastive training (InfoNCE): each query is pulled toward a relevant product
and pushed from the other products of the batch and from hard negatives, the
top BM25/kNN hits that are not judged relevant (mined from the live index, or
by exact cosine with the base encoder when there is none). A product judged
relevant to a query is never its negative, in-batch ones included. The word
embeddings stay frozen: they hold most of e5's weights and all of its other
languages, and the transformer layers are where a domain is learnt, so steps
are cheap on a CPU and languages absent from the judgments keep working.

The validation split (by query hash) is scored with the project's own nDCG@10
every N steps; the best weights are kept and training stops when they stop
improving. The output is an ordinary model folder with a manifest, usable
anywhere ``--model`` is.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Settings
from ..embed.encoder import Encoder, weights_fingerprint
from ..embed.manifest import MANIFEST, read_manifest
from ..embed.transformers_kind import load_transformers
from ..errors import XLSearchError
from ..relevance.judgments import Judgments, Query, SplitPolicy
from ..relevance.metrics import mean, ndcg_at_k

MAX_MINING_DOCS = 50_000


@dataclass(frozen=True)
class TrainOptions:
    out: Path
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup: float = 0.1
    temperature: float = 0.05
    mine_depth: int = 30
    skip_top: int = 0  # leave the first hits out of mining (likely unjudged positives)
    eval_every: int | None = None  # None: about 8 validations per run, at least 20 steps apart
    patience: int = 3
    max_steps: int | None = None
    max_query_length: int = 32
    max_passage_length: int = 128
    seed: int = 13
    split: SplitPolicy = SplitPolicy()
    max_validation_docs: int = 20_000
    index: str | None = None  # mine negatives from this live index
    merge: bool = True  # average with the base weights where that keeps most of the gain
    force: bool = False


@dataclass
class TrainReport:
    steps: int = 0
    best_step: int = 0
    seconds: float = 0.0
    pairs: int = 0
    pairs_per_second: float = 0.0
    losses: list[float] = field(default_factory=list)
    validation: list[dict[str, float]] = field(default_factory=list)
    merge: dict[str, Any] = field(default_factory=dict)


def _mine_in_process(
    encoder: Encoder, judgments: Judgments, queries: list[Query], depth: int, rng: random.Random
) -> dict[str, list[str]]:
    """Top-``depth`` products by exact cosine with the current encoder, per query."""
    ids = list(judgments.passages)
    if len(ids) > MAX_MINING_DOCS:
        keep = {d for q in queries for d in judgments.qrels.get(q.id, {})}
        ids = sorted(keep | set(rng.sample(ids, MAX_MINING_DOCS - min(len(keep), MAX_MINING_DOCS))))
    docs = encoder.encode([judgments.passages[i] for i in ids], role="passage", use_cache=False)
    qv = encoder.encode([q.text for q in queries], role="query", use_cache=False)
    out: dict[str, list[str]] = {}
    for start in range(0, len(queries), 256):
        sims = qv[start : start + 256] @ docs.T
        top = np.argsort(-sims, axis=1)[:, :depth]
        for q, row in zip(queries[start : start + 256], top):
            out[q.id] = [ids[j] for j in row]
    return out


def _mine_from_index(
    settings: Settings, encoder: Encoder, queries: list[Query], index: str, depth: int
) -> dict[str, list[str]]:
    """Top BM25 and kNN hits of the live index (what the shop's search shows today)."""
    from ..cluster.connection import cluster_errors, connect
    from ..cluster.indices import read_meta
    from ..embed.base import ENCODERS
    from ..runtime import IndexMeta
    from ..search.client import XLSearchClient
    from ..search.request import BM25, KNN

    es = connect(settings)
    with cluster_errors(settings):
        meta = IndexMeta.parse(read_meta(es, index))
    # The model being trained searches its own field; the index's other encoders load as they are.
    own = ENCODERS.get(encoder.meta().encoder).vector_field
    embedders: dict[str, Any] = {own: encoder}
    for vector_field in meta.vector_fields:
        if vector_field != own:
            embedders[vector_field] = ENCODERS.get(meta.encoder_of(vector_field)).load(settings)
    client = XLSearchClient(settings.replace(index=index), client=es, encoder=embedders)
    out: dict[str, list[str]] = {}
    for q in queries:
        hits: list[str] = []
        for mode in (BM25, KNN):
            resp = client.search(q.text, lang=q.lang if q.lang != "und" else None, k=depth, mode=mode)
            hits += [h.id for h in resp.hits]
        out[q.id] = list(dict.fromkeys(hits))
    client.close()
    return out


def hard_negatives(judgments: Judgments, mined: dict[str, list[str]], skip_top: int = 0) -> dict[str, list[str]]:
    """Mined hits minus anything judged relevant; products judged not relevant come first."""
    out = {}
    for qid, hits in mined.items():
        grades = judgments.qrels.get(qid, {})
        judged_bad = [d for d, g in grades.items() if g <= 0 and d in judgments.passages]
        unjudged = [d for d in hits[skip_top:] if d not in grades]
        out[qid] = list(dict.fromkeys(judged_bad + unjudged))
    return out


def validation_ndcg(encoder: Encoder, judgments: Judgments, queries: list[Query], doc_ids: list[str]) -> float:
    """Mean nDCG@10 of exact-cosine rankings over ``doc_ids`` (weights change: no cache)."""
    if not queries:
        return 0.0
    docs = encoder.encode([judgments.passages[d] for d in doc_ids], role="passage", use_cache=False)
    qv = encoder.encode([q.text for q in queries], role="query", use_cache=False)
    scores = []
    for start in range(0, len(queries), 256):
        sims = qv[start : start + 256] @ docs.T
        top = np.argsort(-sims, axis=1)[:, :10]
        for q, row in zip(queries[start : start + 256], top):
            scores.append(ndcg_at_k([doc_ids[j] for j in row], judgments.qrels.get(q.id, {}), 10))
    return float(mean([s for s in scores if s is not None]) or 0.0)


class _Batches:
    """Deterministic batches of (query, positive, hard negative) per epoch."""

    def __init__(
        self, judgments: Judgments, queries: list[Query], negatives: dict[str, list[str]], batch_size: int, seed: int
    ):
        self.judgments, self.queries, self.negatives = judgments, queries, negatives
        self.batch_size, self.seed = batch_size, seed

    def __len__(self) -> int:
        return math.ceil(len(self.queries) / self.batch_size)

    def epoch(self, n: int) -> list[list[tuple[Query, str, str | None]]]:
        rng = random.Random(self.seed * 1000 + n)
        order = list(self.queries)
        rng.shuffle(order)
        batches = []
        for start in range(0, len(order), self.batch_size):
            batch = []
            for q in order[start : start + self.batch_size]:
                rel = self.judgments.relevant(q.id)
                positive = rng.choices(sorted(rel), weights=[rel[d] for d in sorted(rel)])[0]
                negs = self.negatives.get(q.id) or []
                batch.append((q, positive, rng.choice(negs) if negs else None))
            batches.append(batch)
        return batches


class _Step:
    """One optimisation step of the InfoNCE loss with in-batch and hard negatives."""

    def __init__(self, encoder: Encoder, judgments: Judgments, options: TrainOptions, total_steps: int):
        import torch

        self.torch, self.encoder, self.judgments, self.options = torch, encoder, judgments, options
        model = encoder.model
        for p in model.get_input_embeddings().parameters():
            p.requires_grad_(False)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=options.learning_rate, weight_decay=0.01)
        warm = max(1, int(total_steps * options.warmup))

        def schedule(step: int) -> float:  # linear warm-up, then linear decay to zero
            if step < warm:
                return (step + 1) / warm
            return max(0.0, (total_steps - step) / max(1, total_steps - warm))

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)

    def _embed(self, texts: list[str], max_length: int) -> Any:
        # Training compares normalised vectors, as search does (cosine).
        return self.torch.nn.functional.normalize(self.encoder.forward(texts, max_length), p=2, dim=-1)

    def __call__(self, batch: list[tuple[Query, str, str | None]]) -> float:
        torch, spec, opts = self.torch, self.encoder.spec, self.options
        self.encoder.model.train()
        doc_ids = [pos for _, pos, _ in batch] + [neg for _, _, neg in batch if neg is not None]
        q = self._embed([spec.query_prefix + qq.text for qq, _, _ in batch], opts.max_query_length)
        d = self._embed([spec.passage_prefix + self.judgments.passages[i] for i in doc_ids], opts.max_passage_length)
        scores = q @ d.T / opts.temperature
        # A product relevant to a query is never its negative, wherever it sits in the batch.
        mask = torch.zeros_like(scores, dtype=torch.bool)
        for row, (qq, _, _) in enumerate(batch):
            rel = self.judgments.relevant(qq.id)
            for col, doc in enumerate(doc_ids):
                if col != row and doc in rel:
                    mask[row, col] = True
        scores = scores.masked_fill(mask, float("-inf"))
        loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(batch), device=scores.device))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        self.scheduler.step()
        self.encoder.model.eval()
        return float(loss.detach())

    def snapshot(self) -> dict[str, Any]:
        return {n: p.detach().clone() for n, p in self.encoder.model.named_parameters() if p.requires_grad}

    def restore(self, state: dict[str, Any]) -> None:
        with self.torch.no_grad():
            for n, p in self.encoder.model.named_parameters():
                if n in state:
                    p.copy_(state[n])


def _validation_docs(
    judgments: Judgments, queries: list[Query], negatives: dict[str, list[str]], limit: int, rng: random.Random
) -> list[str]:
    ids = list(judgments.passages)
    if len(ids) <= limit:
        return ids
    keep = {d for q in queries for d in list(judgments.qrels.get(q.id, {})) + negatives.get(q.id, [])[:10]}
    keep &= set(ids)
    rest = [i for i in ids if i not in keep]
    return sorted(keep | set(rng.sample(rest, max(0, min(len(rest), limit - len(keep))))))


def train_encoder(
    settings: Settings,
    judgments: Judgments,
    options: TrainOptions,
    say: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> dict[str, Any]:
    """Fine-tune ``settings``' encoder on ``judgments``; write the model folder; return its manifest."""
    import torch

    out = Path(options.out)
    if out.exists() and any(out.iterdir()) and not options.force:
        raise XLSearchError(f"{out} is not empty; pass --force to overwrite it")
    torch.manual_seed(options.seed)
    rng = random.Random(options.seed)
    train_q = judgments.split(options.split, "train")
    val_q = judgments.split(options.split, "validation")
    if len(train_q) < 2:
        raise XLSearchError(f"only {len(train_q)} training queries with a relevant product; need more judgments")
    # torch, whatever the configured runtime: the weights being trained must be the
    # ones that embed (an ONNX session would keep embedding the base model).
    base_settings = settings.replace(quantize_int8=False, backend="torch")
    encoder = load_transformers(base_settings)
    base_fp = encoder.fingerprint

    say(
        f"train: {len(train_q)} training and {len(val_q)} validation queries, {len(judgments.passages)} products; "
        f"{len([q for q in judgments.queries.values()])} queries in all, the rest held out"
    )
    t0 = time.perf_counter()
    mined = (
        _mine_from_index(base_settings, encoder, train_q + val_q, options.index, options.mine_depth)
        if options.index
        else _mine_in_process(encoder, judgments, train_q + val_q, options.mine_depth, rng)
    )
    negatives = hard_negatives(judgments, mined, options.skip_top)
    say(
        f"train: mined hard negatives ({'index ' + options.index if options.index else 'exact cosine'}) "
        f"in {time.perf_counter() - t0:.0f}s"
    )
    val_docs = _validation_docs(judgments, val_q, negatives, options.max_validation_docs, rng)
    before = validation_ndcg(encoder, judgments, val_q, val_docs)

    batches = _Batches(judgments, train_q, negatives, options.batch_size, options.seed)
    total = len(batches) * options.epochs
    if options.max_steps:
        total = min(total, options.max_steps)
    if options.eval_every is None:
        options = replace(options, eval_every=max(20, total // 8))
    step_fn = _Step(encoder, judgments, options, total)
    base_state = step_fn.snapshot()
    report = _loop(step_fn, batches, total, options, encoder, judgments, val_q, val_docs, before, say)
    if options.merge:
        report.merge = choose_merge(
            step_fn, base_state, lambda: validation_ndcg(encoder, judgments, val_q, val_docs), before, say
        )
    report.seconds = round(time.perf_counter() - t0, 1)
    report.pairs = report.steps * options.batch_size
    after = report.merge.get("ndcg@10") or max([v["ndcg@10"] for v in report.validation] + [before])
    return _save(encoder, out, settings, judgments, options, report, base_fp, before, after)


def _loop(
    step_fn: _Step,
    batches: _Batches,
    total: int,
    options: TrainOptions,
    encoder: Encoder,
    judgments: Judgments,
    val_q: list[Query],
    val_docs: list[str],
    before: float,
    say: Callable[[str], None],
) -> TrainReport:
    """Steps with periodic validation; the best weights are restored at the end."""
    from tqdm import tqdm

    report = TrainReport(validation=[{"step": 0, "ndcg@10": round(before, 4)}])
    every = options.eval_every or 20
    best, best_state, bad_evals = before, step_fn.snapshot(), 0
    bar = None
    started = time.perf_counter()
    epoch = 0
    while report.steps < total and bad_evals < options.patience:
        for batch in batches.epoch(epoch):
            if report.steps >= total or bad_evals >= options.patience:
                break
            report.losses.append(round(step_fn(batch), 4))
            report.steps += 1
            if report.steps == 1:
                per_step = time.perf_counter() - started
                say(
                    f"train: {total} steps of {options.batch_size} pairs, about {per_step * total / 60:.1f} min "
                    f"plus validation every {every} steps (stops early when it stops improving)"
                )
                bar = tqdm(total=total, initial=1, unit="step", file=sys.stderr, disable=not sys.stderr.isatty())
            elif bar is not None:
                bar.update(1)
            if report.steps % every == 0 or report.steps == total:
                score = validation_ndcg(encoder, judgments, val_q, val_docs)
                report.validation.append({"step": report.steps, "ndcg@10": round(score, 4)})
                if score > best:
                    best, best_state, bad_evals, report.best_step = score, step_fn.snapshot(), 0, report.steps
                else:
                    bad_evals += 1
                say(
                    f"train: step {report.steps}/{total} loss {np.mean(report.losses[-every:]):.3f} "
                    f"validation nDCG@10 {score:.4f} (best {best:.4f} at step {report.best_step})"
                )
            if bar is not None:
                bar.set_postfix(loss=report.losses[-1], val=round(best, 4))
        epoch += 1
    if bar is not None:
        bar.close()
    step_fn.restore(best_state)
    elapsed = time.perf_counter() - started
    report.pairs_per_second = round(report.steps * options.batch_size / max(elapsed, 1e-9), 2)
    return report


MERGE_ALPHAS = (0.25, 0.5, 0.75)
MERGE_KEEP = 0.9


def choose_merge(
    step_fn: _Step, base_state: dict[str, Any], score: Callable[[], float], before: float, say: Callable[[str], None]
) -> dict[str, Any]:
    """Average the fine-tuned weights with the base ones (alpha * tuned + (1 - alpha) * base).

    Fine-tuning on one shop's queries costs some of what the base model knew
    about everything else (measured: -0.035 MRR@10 on xquad-r-xling for a
    cikm-tuned e5). Weight averaging gives most of that back; the smallest
    alpha that keeps MERGE_KEEP of the validation gain is chosen, from the
    training data's own validation split only.
    """
    tuned_state = step_fn.snapshot()
    full = score()
    scores = {1.0: full}
    chosen = 1.0
    for alpha in MERGE_ALPHAS:
        step_fn.restore({n: alpha * tuned_state[n] + (1 - alpha) * base_state[n] for n in tuned_state})
        scores[alpha] = score()
        if scores[alpha] >= before + MERGE_KEEP * (full - before):
            chosen = alpha
            break
    step_fn.restore({n: chosen * tuned_state[n] + (1 - chosen) * base_state[n] for n in tuned_state})
    say(
        f"train: weight averaging with the base: alpha {chosen} keeps validation nDCG@10 {scores[chosen]:.4f} "
        f"(fine-tuned alone {full:.4f}, base {before:.4f})"
    )
    return {
        "alpha": chosen,
        "ndcg@10": round(scores[chosen], 4),
        "tried": {str(a): round(v, 4) for a, v in sorted(scores.items())},
        "keep": MERGE_KEEP,
    }


def _save(
    encoder: Encoder,
    out: Path,
    settings: Settings,
    judgments: Judgments,
    options: TrainOptions,
    report: TrainReport,
    base_fp: str,
    before: float,
    after: float,
) -> dict[str, Any]:
    if out.exists() and options.force:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    encoder.model.save_pretrained(str(out), safe_serialization=True)
    encoder.tokenizer.save_pretrained(str(out))
    base_manifest = read_manifest(Path(settings.model_ref)) or {}
    for extra in ("sentencepiece.bpe.model",):
        src = Path(settings.model_ref) / extra
        if src.is_file() and not (out / extra).exists():
            shutil.copy(src, out / extra)
    fingerprint = weights_fingerprint(out)  # no manifest yet: hashes the saved weights
    manifest = {
        "name": f"{base_manifest.get('name', Path(settings.model_ref).name)}-ft-{judgments.name}",
        "dims": encoder.dims,
        "pooling": encoder.spec.pooling,
        "normalize": True,
        "max_length": encoder.spec.max_length,
        "query_prefix": encoder.spec.query_prefix,
        "passage_prefix": encoder.spec.passage_prefix,
        "fingerprint": fingerprint,
        "licence": base_manifest.get("licence", "as the base model"),
        "training": {
            "base_model": base_manifest.get("name", settings.model_ref),
            "base_fingerprint": base_fp,
            "base_model_path": settings.model_ref,
            "data": judgments.name,
            "data_hash": judgments.data_hash,
            "split": options.split.as_dict(),
            "steps": report.steps,
            "best_step": report.best_step,
            "seed": options.seed,
            "options": {
                k: (str(v) if isinstance(v, Path) else v)
                for k, v in asdict(options).items()
                if k not in ("out", "split", "force")
            },
            "validation_ndcg@10": {"before": round(before, 4), "after": round(after, 4)},
            "validation_history": report.validation,
            "merge": report.merge,
            "first_loss": report.losses[0] if report.losses else None,
            "final_loss": report.losses[-1] if report.losses else None,
            "seconds": report.seconds,
            "pairs_per_second": report.pairs_per_second,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return {"path": str(out), **manifest}

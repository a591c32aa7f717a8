"""Choosing the hybrid's defaults by leave-one-language-out over both shared sets.

    xlsearch eval ../shared/data/xquad-r-xling --sample 2 --modes hybrid-auto   # builds the eval index (once)
    xlsearch eval ../shared/data/cikm-qc-xling --sample 2 --modes hybrid-auto
    python benchmarks/choose_defaults.py --out benchmarks/results/loo/choose-defaults.json

A default must carry to languages nobody chose it on. For each set, a seeded sample
of queries from the train and validation splits (never test) is searched once; every
candidate (fusion x kNN weight x the split of that weight between e5 and USE) is then
replayed offline by the tuner's own fuse, which is what search serves. For each
language of either set in turn, the candidate is picked on all the other languages:
the best mean of the two sets' nDCG@10, among candidates that keep every remaining
language's MRR@10 within 0.01 of the same fusion with e5 alone. The language left out
is then scored. A default is a candidate picked with every language left out.

Questions (text/question.py) get their own profile on top of that default: a factor
on the kNN weight and the widest encoder's (e5's) part of it, chosen the same way on
the question-form choosing queries, each language with enough of them left out in turn
and held to e5 alone (which a question's factor does not touch: one encoder has no split).
The default is picked with questions weighed as search serves them (the profile in
search/request.py over each candidate), and the profile is then picked over that
default; ``stable`` in the report says whether the profile picked is the one served
(else set it and run again). The picks with every query weighed as a keyword, and on
the keyword queries alone, are kept for the record.

The test split, never looked at while choosing, then reports each set per language:
the chosen default, the previous one, e5 alone, USE alone, and BM25 with translation.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

from common import RESULTS, SHARED

from xlsearch_es.cluster.connection import connect
from xlsearch_es.config import load_settings
from xlsearch_es.embed.base import load_embedders
from xlsearch_es.evaluation.loo import MRR_TOLERANCE
from xlsearch_es.evaluation.runner import eval_alias
from xlsearch_es.learn.tune import Tuner, defaults_for
from xlsearch_es.relevance.judgments import Judgments, SplitPolicy, load_beir
from xlsearch_es.relevance.metrics import mrr_at_k, ndcg_at_k
from xlsearch_es.search.client import XLSearchClient
from xlsearch_es.search.request import KEYWORD_WIDEST_ODDS, QUESTION_KNN_FACTOR, QUESTION_WIDEST_ODDS
from xlsearch_es.search.tuning import SearchParams
from xlsearch_es.service import model_meta
from xlsearch_es.text.question import is_question
from xlsearch_es.translate.factory import make_translator

SETS = ("xquad-r-xling", "cikm-qc-xling")
FUSIONS = ("zscore", "minmax", "rrf")
WEIGHTS = (1.0, 2.0, 4.0, 8.0)
E5_SHARES = (1.0, 0.75, 0.6, 0.5, 0.4, 0.25, 0.0)  # e5's part of the kNN weight; USE has the rest
# The keyword default search serves (the default fusion, its kNN weight, search/request.py's split);
# questions get the profile over it (``served_profile``).
SERVED = ("zscore", 4.0, round(KEYWORD_WIDEST_ODDS / (1 + KEYWORD_WIDEST_ODDS), 2))  # odds 2/3 -> share 0.4

QUESTION_FACTORS = (1.0, 1.5, 2.0, 3.0)  # a question's kNN weight over a keyword query's
QUESTION_SHARES = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)  # e5's part of a question's kNN weight
MIN_LANGUAGE_QUERIES = 30  # a language with fewer queries of the kind chosen for is not left out on its own

Candidate = tuple[str, float, float]
Profile = tuple[float, float]  # (kNN factor, e5 share) for questions
Scores = dict[str, list[tuple[float, float]]]  # language -> per query (nDCG@10, MRR@10)


def open_set(name: str) -> tuple[XLSearchClient, Judgments]:
    """A client on the set's eval index (built by ``xlsearch eval``) and the set's judgments.
    The model and query adapter are the environment's (XLSEARCH_MODEL, XLSEARCH_QUERY_ADAPTER)."""
    judgments = load_beir(SHARED / name)
    langs = sorted({q.lang for q in judgments.queries.values()})
    settings = load_settings({"languages": ",".join(["en"] + [lg for lg in langs if lg != "en"])})
    # XLSEARCH_MODEL (a fine-tuned e5) picks that model's eval index, as xlsearch eval names it
    settings = settings.replace(index=eval_alias(settings, name, model_meta(settings).fingerprint))
    client = XLSearchClient(
        settings, client=connect(settings), encoder=load_embedders(settings), translator=make_translator(settings)
    )
    return client, judgments


def sampled(client: XLSearchClient, judgments: Judgments, splits: tuple[str, ...], per_language: int) -> Tuner:
    """A tuner over a seeded per-language sample of the splits' queries (their lists are fetched once)."""
    queries = [q for s in splits for q in judgments.split(SplitPolicy(), s)]
    rng, chosen = random.Random(7), []
    for lang in sorted({q.lang for q in queries}):
        mine = sorted((q for q in queries if q.lang == lang), key=lambda q: q.id)
        rng.shuffle(mine)
        chosen += mine[:per_language]
    return Tuner(client, judgments, chosen, lambda _m: None)


def odds(share: float) -> float:
    return share / (1.0 - share) if share < 1.0 else 1e9


def served_profile(keywords: Candidate) -> Profile:
    """The question profile search applies over a keyword candidate (search/request.py)."""
    question_odds = odds(keywords[2]) * QUESTION_WIDEST_ODDS
    return QUESTION_KNN_FACTOR, round(question_odds / (1 + question_odds), 2)


@contextmanager
def question_profile(client: XLSearchClient, profile: Profile, keyword_share: float) -> Iterator[None]:
    """Search (and so the tuner's replay) with this profile for questions: (kNN factor, e5's
    share of a question's kNN weight) over a keyword split giving e5 ``keyword_share``."""
    planner = client.planner
    saved = planner.question_knn_factor, planner.question_widest_odds
    factor, share = profile
    ratio = 1.0 if share == keyword_share else odds(share) / max(odds(keyword_share), 1e-9)
    planner.question_knn_factor, planner.question_widest_odds = factor, ratio
    try:
        yield
    finally:
        planner.question_knn_factor, planner.question_widest_odds = saved


def scores(tuner: Tuner, rank: Callable[[Any], list[str]], questions: bool | None = None) -> Scores:
    """Per language, each query's (nDCG@10, MRR@10) of the ranking ``rank`` gives its cached lists
    (``questions``: only question-form queries, only the others, or all with None)."""
    out: Scores = defaultdict(list)
    for item in tuner.items:
        if questions is not None and is_question(item.query.text) != questions:
            continue
        rels, ranked = tuner.judgments.qrels.get(item.query.id, {}), rank(item)
        out[item.query.lang].append((ndcg_at_k(ranked, rels, 10) or 0.0, mrr_at_k(ranked, rels, 10) or 0.0))
    return out


def hybrid_scores(tuner: Tuner, defaults: SearchParams, candidate: Candidate, questions: bool | None = None) -> Scores:
    fusion, weight, e5 = candidate
    # judged vectors (if the index holds any) were learnt from train queries, which choosing replays
    params = replace(defaults, fusion=fusion, knn_weight=weight, knn_shares=(e5, 1.0 - e5), judged_weight=0.0)
    return scores(tuner, lambda item: tuner.ranking(params, item), questions)


def choose_question_profile(tuners: dict[str, Tuner], default: Candidate) -> tuple[Profile, dict[str, Any]]:
    """The question profile over the default, picked with each language (with enough
    question-form queries) left out: the best mean nDCG@10 over the remaining questions
    among profiles keeping each remaining language within MRR_TOLERANCE of e5 alone."""
    grid: dict[Profile, Scores] = {}
    alone: dict[float, Scores] = {}
    for factor in QUESTION_FACTORS:
        for share in sorted(set(QUESTION_SHARES) | {default[2]}):
            merged: Scores = defaultdict(list)
            for name, tuner in tuners.items():
                with question_profile(tuner.client, (factor, share), default[2]):
                    for lang, rows in hybrid_scores(tuner, defaults_for(tuner.client), default, True).items():
                        merged[f"{name}:{lang}"] += rows
            grid[(factor, share)] = merged
        alone[factor] = grid[(factor, 1.0)]
    as_keywords = (1.0, default[2])
    languages = sorted(k for k, v in grid[as_keywords].items() if len(v) >= MIN_LANGUAGE_QUERIES)

    def value(profile: Profile, left_out: str) -> float:
        mine = {k: v for k, v in means(grid[profile]).items() if k in languages and k != left_out}
        line = means(alone[profile[0]])
        if any(m[1] < line[k][1] - MRR_TOLERANCE for k, m in mine.items()):
            return float("-inf")
        return statistics.fmean(m[0] for m in mine.values())

    loo = {}
    for lang in languages:
        chosen = max(grid, key=lambda p: (value(p, lang), p == as_keywords))
        held, line = means(grid[chosen])[lang], means(alone[chosen[0]])[lang]
        loo[lang] = {
            "chosen": list(chosen),
            "held_out_ndcg@10": round(held[0], 4),
            "held_out_mrr@10": round(held[1], 4),
            "as_keywords_mrr@10": round(means(grid[as_keywords])[lang][1], 4),
            "e5_alone_mrr@10": round(line[1], 4),
        }
    votes = Counter(tuple(r["chosen"]) for r in loo.values())
    return votes.most_common(1)[0][0], {"leave_one_language_out": loo, "votes": {str(k): v for k, v in votes.items()}}


def part_scores(tuner: Tuner, defaults: SearchParams, part: str) -> Scores:
    """One list alone (``bm25`` or a vector field), focused as search focuses."""
    return scores(tuner, lambda item: tuner.component_ranking(defaults, item, part))


def e5_alone(c: Candidate) -> Candidate:
    """The same fusion and kNN weight with e5 alone: the line a candidate is held to."""
    return (c[0], c[1], 1.0)


def means(s: Scores) -> dict[str, tuple[float, float]]:
    return {lg: (statistics.fmean(v[0] for v in q), statistics.fmean(v[1] for v in q)) for lg, q in s.items()}


def overall(s: Scores, metric: int = 0) -> float:
    """Mean over every query of nDCG@10 (``metric`` 0) or MRR@10 (1)."""
    return statistics.fmean(v[metric] for q in s.values() for v in q)


def pick(grid: dict[str, dict[Candidate, Scores]], left_out: tuple[str, str] | None) -> Candidate:
    """The candidate with the best mean over sets of nDCG@10 that keeps every language
    (but the one left out) within MRR_TOLERANCE of its fusion and weight with e5 alone."""

    def value(c: Candidate) -> float:
        total = 0.0
        for name, by_candidate in grid.items():
            mine = {lg: v for lg, v in by_candidate[c].items() if (name, lg) != left_out}
            alone = means(by_candidate[e5_alone(c)])
            if any(m[1] < alone[lg][1] - MRR_TOLERANCE for lg, m in means(mine).items()):
                return float("-inf")
            total += overall(mine)
        return total / len(grid)

    candidates = list(next(iter(grid.values())))
    return max(candidates, key=lambda c: (value(c), c == SERVED))


def choose_default(
    sets: dict[str, Tuner], candidates: list[Candidate], questions: bool | None = None, as_served: bool = True
) -> tuple[Candidate, dict[str, Any]]:
    """The default: ``pick`` with each language left out. ``as_served``: each query weighed
    as search weighs it, questions with the question profile search applies over the
    candidate (QUESTION_KNN_FACTOR, QUESTION_WIDEST_ODDS), which is what a default serves;
    else every query as a keyword query. ``questions=False``: the keyword queries alone."""
    grid: dict[str, dict[Candidate, Scores]] = {}
    for name, tuner in sets.items():
        by_candidate = {}
        for c in candidates:
            with nullcontext() if as_served else question_profile(tuner.client, (1.0, c[2]), c[2]):
                by_candidate[c] = hybrid_scores(tuner, defaults_for(tuner.client), c, questions)
        keep = {lg for lg, v in by_candidate[SERVED].items() if len(v) >= MIN_LANGUAGE_QUERIES}
        if keep:
            grid[name] = {c: {lg: v for lg, v in sc.items() if lg in keep} for c, sc in by_candidate.items()}
    loo = {}
    for name in grid:
        for lang in sorted(grid[name][SERVED]):
            chosen = pick(grid, (name, lang))
            held = means(grid[name][chosen])[lang]
            alone = means(grid[name][e5_alone(chosen)])[lang]
            loo[f"{name}:{lang}"] = {
                "chosen": list(chosen),
                "held_out_ndcg@10": round(held[0], 4),
                "held_out_mrr@10": round(held[1], 4),
                "e5_alone_mrr@10": round(alone[1], 4),
            }
    votes = Counter(tuple(r["chosen"]) for r in loo.values())
    return votes.most_common(1)[0][0], {
        "leave_one_language_out": loo,
        "votes": {"|".join(map(str, k)): v for k, v in votes.items()},
    }


def split_table(tuner: Tuner, rows: dict[str, tuple[Candidate, Profile]]) -> dict[str, Any]:
    """Each row's test scores, overall and per language, beside each list alone."""
    defaults = defaults_for(tuner.client)
    table = {}
    for label, (candidate, profile) in rows.items():
        with question_profile(tuner.client, profile, candidate[2]):
            table[label] = hybrid_scores(tuner, defaults, candidate)
    parts = {"kNN e5 only": tuner.fields[0], "kNN USE only": tuner.fields[-1], "BM25 with translation": "bm25"}
    for label, part in parts.items():
        table[label] = part_scores(tuner, defaults, part)
    return {
        label: {
            "overall_ndcg@10": round(overall(s), 4),
            "overall_mrr@10": round(overall(s, metric=1), 4),
            "per_language": {lg: {"ndcg@10": round(m[0], 4), "mrr@10": round(m[1], 4)} for lg, m in means(s).items()},
            "queries": sum(len(q) for q in s.values()),
        }
        for label, s in table.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--choose-sample", type=int, default=150, help="train+validation queries per language")
    parser.add_argument("--test-sample", type=int, default=200, help="test queries per language")
    parser.add_argument("--out", default=str(RESULTS / "loo" / "choose-defaults.json"))
    args = parser.parse_args()
    t0 = time.perf_counter()
    candidates = [(f, w, a) for f in FUSIONS for w in WEIGHTS for a in E5_SHARES]
    sets = {name: open_set(name) for name in SETS}
    choosing = {name: sampled(c, j, ("train", "validation"), args.choose_sample) for name, (c, j) in sets.items()}
    for name, tuner in choosing.items():
        print(f"{name}: {len(tuner.items)} choosing queries", file=sys.stderr)
    default, served_report = choose_default(choosing, candidates)
    # For the record (see README): every query weighed as a keyword, and the keyword queries alone
    as_keywords_pick, keyword_report = choose_default(choosing, candidates, as_served=False)
    keywords_alone, keywords_alone_report = choose_default(choosing, candidates, questions=False)
    profile, question_report = choose_question_profile(choosing, default)
    served = served_profile(default)
    print(f"default {default}, questions {profile} (served: {served})", file=sys.stderr)
    report: dict[str, Any] = {
        "candidates": len(candidates),
        "choose_sample_per_language": args.choose_sample,
        "as_served": served_report,
        "as_keywords": {**keyword_report, "chosen": list(as_keywords_pick)},
        "default": list(default),
        "keyword_queries_alone": {**keywords_alone_report, "chosen": list(keywords_alone)},
        "questions": question_report,
        "question_profile": list(profile),
        "stable": tuple(profile) == served,
        "test": {},
    }
    as_keywords: Profile = (1.0, default[2])
    rows = {
        "default": (default, profile),
        "default, questions as keywords": (default, as_keywords),
        "served default": (SERVED, served_profile(SERVED)),
        "served default, questions as keywords": (SERVED, (1.0, SERVED[2])),
        "e5 alone (default fusion)": (e5_alone(default), (1.0, 1.0)),  # one encoder: no question factor
        "chosen with every query weighed as a keyword": (as_keywords_pick, profile),
        "chosen on keyword queries alone": (keywords_alone, profile),
        "USE alone (default weights)": ((default[0], default[1], 0.0), (profile[0], 0.0)),
    }
    for name, (client, judgments) in sets.items():
        report["test"][name] = split_table(sampled(client, judgments, ("test",), args.test_sample), rows)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(json.dumps({"default": report["default"], "question_profile": profile}), file=sys.stderr)


if __name__ == "__main__":
    main()

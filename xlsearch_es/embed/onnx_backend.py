"""ONNX Runtime backend for the transformers encoder (``--backend onnx``).

The model is exported once with torch's dynamo exporter (dynamic batch and
sequence axes; its fp32 output matches torch to cosine 1.0), optionally
quantized to int8 with onnxruntime's dynamic quantization, and cached beside
the other models, named by the weights' fingerprint so a changed model is
exported again. Tokenisation, pooling and prefixes stay those of ``Encoder``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError

log = logging.getLogger(__name__)
OPSET = 18


def _export(model: Any, tokenizer: Any, target: Path) -> None:
    import torch

    class LastHidden(torch.nn.Module):
        def __init__(self, inner: Any):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = tokenizer(["a short text", "a somewhat longer text to pad the batch"], padding=True, return_tensors="pt")
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
    tmp = target.with_suffix(f".partial-{os.getpid()}.onnx")  # concurrent exporters do not collide
    with contextlib.redirect_stdout(sys.stderr):  # the exporter reports progress on stdout; keep --json clean
        torch.onnx.export(
            LastHidden(model.eval()).eval(),
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


def onnx_file(folder: Path, fingerprint: str, int8: bool, model: Any, tokenizer: Any) -> Path:
    """The exported (and, for int8, quantized) model, made on first use."""
    folder.mkdir(parents=True, exist_ok=True)
    fp32 = folder / f"model-{fingerprint}.onnx"
    if not fp32.is_file():
        log.warning("exporting the encoder to ONNX (once) into %s", fp32)
        _export(model, tokenizer, fp32)
    if not int8:
        return fp32
    quantized = folder / f"model-{fingerprint}-int8.onnx"
    if not quantized.is_file():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = quantized.with_suffix(f".partial-{os.getpid()}.onnx")
        quantize_dynamic(
            str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"]
        )
        os.replace(tmp, quantized)
    return quantized


class OnnxRunner:
    """One inference session; returns the last hidden state as numpy."""

    def __init__(self, path: Path, threads: int | None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelError("the onnx backend needs onnxruntime (pip install 'xlsearch-es[onnx]')") from None
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
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

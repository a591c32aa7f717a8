"""Sentence encoder over any transformers encoder folder or hub id.

Pooling, role prefixes ("query: " / "passage: " for e5), max length and
normalisation come from the spec (the model manifest when there is one), so a
user's own model loads through the same code as the converted e5. Output is
always L2-normalised float32, batches are sorted by length to waste little
padding, and a bounded per-encoder cache keyed by (role, text) embeds a
repeated text once. Registered as the ``transformers`` encoder kind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Settings
from ..errors import ModelError
from ..mapping import ModelMeta
from .base import check_role
from .fingerprints import INT8_SUFFIX, ONNX_INT8_SUFFIX, file_hash
from .languages import model_languages
from .manifest import read_manifest
from .onnx_backend import is_exported

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncoderSpec:
    path: str
    pooling: str = "mean"  # mean | cls
    query_prefix: str = ""
    passage_prefix: str = ""
    normalize: bool = True
    max_length: int = 512
    device: str = "cpu"
    threads: int | None = None
    quantize_int8: bool = False
    batch_size: int = 64
    cache_size: int = 50_000
    backend: str = "auto"  # auto | torch | onnx (see resolve_backend)
    onnx_dir: str | None = None  # where the ONNX export is cached
    spin_threads: bool = False  # ONNX Runtime's threads busy-wait between operators (Settings.spin_threads)


def spec_from_settings(settings: Settings) -> EncoderSpec:
    """Read pooling and prefixes from the model's manifest; e5 defaults otherwise."""
    ref = settings.model_ref
    manifest = read_manifest(Path(ref)) if Path(ref).is_dir() else None
    looks_e5 = "e5" in Path(ref).name.lower()
    pooling = (manifest or {}).get("pooling", "mean")
    qp = (manifest or {}).get("query_prefix", "query: " if looks_e5 else "")
    pp = (manifest or {}).get("passage_prefix", "passage: " if looks_e5 else "")
    max_len = min(settings.max_length, int((manifest or {}).get("max_length", settings.max_length)))
    return EncoderSpec(
        path=ref,
        pooling=pooling,
        query_prefix=qp,
        passage_prefix=pp,
        normalize=True,
        max_length=max_len,
        device=settings.device,
        threads=settings.threads,
        quantize_int8=settings.quantize_int8,
        batch_size=settings.batch_size,
        backend=settings.backend,
        spin_threads=settings.spin_threads,
        # One folder for every model: files are named by the weights' fingerprint and the
        # export recipe, so checkouts sharing a home (or naming the model by another path) share one export.
        onnx_dir=str(settings.home_dir / "models" / "onnx"),
    )


BACKENDS = ("auto", "torch", "onnx")  # the one list: settings, CLI choices and checks read it
AUTO_BACKEND, TORCH, ONNX = BACKENDS


def resolve_backend(backend: str, device: str = "cpu") -> str:
    """``auto`` means ONNX Runtime on the CPU when it is installed (measured in
    benchmarks/bench_models.py: same vectors, higher throughput, ~2.5x lower
    single-query latency than torch) and torch elsewhere (GPUs, no onnxruntime)."""
    if backend != AUTO_BACKEND:
        return backend
    if device != "cpu":
        return TORCH
    import importlib.util

    needed = ("onnxruntime", "onnx", "onnxscript")
    return ONNX if all(importlib.util.find_spec(name) for name in needed) else TORCH


def with_precision(fingerprint: str, int8: bool, backend: str = TORCH) -> str:
    """int8 vectors differ from fp32 ones (cosine ~0.98-0.99) and from another
    backend's int8, so an index records which it holds: the fingerprint of a
    quantized encoder carries a suffix naming its backend. fp32 vectors of torch
    and ONNX Runtime agree to cosine 1.0 and share the plain fingerprint."""
    if not int8:
        return fingerprint
    return fingerprint + (ONNX_INT8_SUFFIX if backend == ONNX else INT8_SUFFIX)


def weights_fingerprint(folder: Path) -> str:
    """Hash of the weight files (names, sizes, contents) of a model folder."""
    manifest = read_manifest(folder)
    if manifest and manifest.get("fingerprint"):
        return str(manifest["fingerprint"])
    files = sorted(
        p for p in folder.iterdir() if p.suffix in {".safetensors", ".bin", ".pt"} or p.name == "config.json"
    )
    if not files:
        raise ModelError(f"model folder {folder} has no weight files")
    return file_hash(files)


class Encoder:
    """Loads once; ``encode`` is safe to call from several threads."""

    def __init__(self, spec: EncoderSpec):
        self.spec = spec
        path = Path(spec.path)
        local = path.exists()
        if local and not (path / "config.json").is_file():
            raise ModelError(f"model folder {path} has no config.json; run 'xlsearch models prepare'")
        if not local and ("/" not in spec.path or spec.path.startswith((".", "/", "~"))):
            raise ModelError(f"model folder {spec.path} does not exist; run 'xlsearch models prepare'")
        self._model: Any = None
        self._tokenizer: Any = None
        self._fast: FastTokenizer | None = None
        self._model_lock = threading.Lock()
        self.backend = resolve_backend(spec.backend, spec.device)
        base = weights_fingerprint(path) if local else ""
        folder = Path(spec.onnx_dir or Path.home() / ".cache" / "xlsearch" / "models" / "onnx")
        if (
            local
            and self.backend == ONNX
            and is_exported(folder, base, spec.quantize_int8)
            and FastTokenizer.fits(path)
        ):
            # Everything a CPU search needs is on disk: skip importing transformers (seconds per command).
            config: Any = LocalConfig.read(path)
            self._fast = FastTokenizer(path, min(spec.max_length, config.max_position_embeddings))
        else:
            from transformers import AutoConfig

            with _model_errors(spec.path):
                config = AutoConfig.from_pretrained(spec.path)
            self.tokenizer  # noqa: B018 - load (and check) it now
        self._config = config
        if not local:
            base = self._hub_fingerprint(config, spec.path)
        self._onnx = None
        if self.backend == ONNX:
            self._onnx = self._onnx_runner(spec, base)
            if self._onnx is None:  # auto, and the export failed: torch gives the same fp32 vectors
                self.backend = TORCH
                self._model = None  # loaded for the export: load again as the torch backend wants it
        elif self.backend != TORCH:
            raise ModelError(f"unknown encoder backend {spec.backend!r}; use {', '.join(BACKENDS)}")
        if self.backend == TORCH:
            self.model  # noqa: B018 - load (and check) the weights now, not on the first query
        self.dims = int(getattr(config, "hidden_size", 0) or self.model.get_input_embeddings().embedding_dim)
        self.max_length = min(spec.max_length, int(getattr(config, "max_position_embeddings", 512) or 512))
        self.fingerprint = with_precision(base, spec.quantize_int8, self.backend)
        manifest = (read_manifest(path) or {}) if local else {}
        self.name = manifest.get("name", path.name) if local else spec.path
        self.languages = manifest_languages(manifest, str(self.name))
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = {"embedded": 0, "cache_hits": 0}

    @property
    def tokenizer(self) -> Any:
        """transformers' tokenizer of the model, loaded on first use (export, torch, training)."""
        with self._model_lock:
            if self._tokenizer is None:
                from transformers import AutoTokenizer

                with _model_errors(self.spec.path):
                    self._tokenizer = AutoTokenizer.from_pretrained(self.spec.path)
            return self._tokenizer

    @property
    def model(self) -> Any:
        """The torch model, loaded on first use: the ONNX backend with its export on disk
        never needs it (a search then skips importing torch's model code and the weights)."""
        with self._model_lock:
            if self._model is None:
                self._model = self._load_torch_model()
            return self._model

    def _load_torch_model(self) -> Any:
        import torch
        from transformers import AutoModel

        spec = self.spec
        if spec.threads:
            torch.set_num_threads(spec.threads)
        with _model_errors(spec.path):
            if self._config.model_type in {"bert", "xlm-roberta", "roberta"}:  # the pooler is unused: skip it
                model = AutoModel.from_pretrained(spec.path, add_pooling_layer=False)
            else:
                model = AutoModel.from_pretrained(spec.path)
        model.eval()
        if self.backend == TORCH and spec.quantize_int8:
            if spec.device != "cpu":
                raise ModelError("int8 dynamic quantization is CPU-only; drop --int8 or use --device cpu")
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        return model.to(spec.device) if self.backend == TORCH else model

    def _onnx_runner(self, spec: EncoderSpec, fingerprint: str) -> Any:
        """The ONNX Runtime session (exported on first use). Asked for by name, a
        failure is an error; under ``auto`` it is logged and torch takes over."""
        from .onnx_backend import OnnxRunner, onnx_file

        if spec.device != "cpu":
            raise ModelError("the onnx backend runs on the CPU here; use --backend torch for --device cuda")
        folder = Path(spec.onnx_dir or Path.home() / ".cache" / "xlsearch" / "models" / "onnx")
        try:
            path = onnx_file(folder, fingerprint, spec.quantize_int8, lambda: self.model, lambda: self.tokenizer)
            return OnnxRunner(path, spec.threads, spin=spec.spin_threads)
        except Exception as exc:  # the exporter raises many kinds; auto falls back on any
            if spec.backend == ONNX:
                if isinstance(exc, ModelError):
                    raise
                raise ModelError(f"cannot run {spec.path!r} on ONNX Runtime: {exc}") from exc
            log.warning("ONNX export of %s failed (%s); using torch", spec.path, exc)
            return None

    @staticmethod
    def _hub_fingerprint(config: Any, ref: str) -> str:
        text = json.dumps(config.to_dict(), sort_keys=True, default=str) + ref
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def meta(self) -> ModelMeta:
        return ModelMeta(
            name=str(self.name),
            fingerprint=self.fingerprint,
            dims=self.dims,
            query_prefix=self.spec.query_prefix,
            passage_prefix=self.spec.passage_prefix,
            languages=self.languages,
        )

    def _prefix(self, role: str) -> str:
        return self.spec.query_prefix if check_role(role) == "query" else self.spec.passage_prefix

    def encode(self, texts: Sequence[str], role: str = "passage", use_cache: bool = True) -> np.ndarray:
        """Embed texts (row i for texts[i]), L2-normalised float32 of shape (n, dims)."""
        prefix = self._prefix(role)
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                hit = self._cache.get((role, text)) if use_cache else None
                if hit is not None:
                    out[i] = hit
                    self.stats["cache_hits"] += 1
                else:
                    todo.setdefault(text, []).append(i)
        if todo:
            unique = list(todo)
            vectors = self._embed([prefix + t for t in unique])
            with self._lock:
                for text, vec in zip(unique, vectors):
                    for i in todo[text]:
                        out[i] = vec
                    if use_cache:
                        self._cache[(role, text)] = vec
                        if len(self._cache) > self.spec.cache_size:
                            self._cache.popitem(last=False)
                self.stats["embedded"] += len(unique)
        return out

    def _embed(self, texts: list[str]) -> np.ndarray:
        # Sort by length so each batch pads to similar sizes.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        result = np.zeros((len(texts), self.dims), dtype=np.float32)
        bs = max(1, self.spec.batch_size)
        for start in range(0, len(order), bs):
            idx = order[start : start + bs]
            if self._onnx is not None:
                result[idx] = self._forward_onnx([texts[i] for i in idx])
                continue
            import torch

            with torch.inference_mode():
                pooled = self.forward([texts[i] for i in idx], self.max_length)
            result[idx] = pooled.float().cpu().numpy()
        return result

    def _forward_onnx(self, texts: list[str]) -> np.ndarray:
        from .onnx_backend import pool

        assert self._onnx is not None
        if self._fast is not None:
            batch = self._fast.batch(texts)
        else:
            batch = self.tokenizer(
                texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="np"
            )
        hidden = self._onnx.last_hidden(batch["input_ids"], batch["attention_mask"])
        return pool(hidden, batch["attention_mask"], self.spec.pooling, self.spec.normalize)

    def forward(self, texts: list[str], max_length: int):  # a torch tensor
        """Tokenise, run the model and pool: the one place pooling is defined (training
        calls it with gradients on, ``encode`` under inference mode)."""
        import torch

        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        batch = {k: v.to(self.spec.device) for k, v in batch.items()}
        hidden = self.model(**batch).last_hidden_state
        if self.spec.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=-1) if self.spec.normalize else pooled


@dataclass(frozen=True)
class LocalConfig:
    """The few config.json fields the ONNX path reads, without importing transformers."""

    model_type: str
    hidden_size: int
    max_position_embeddings: int

    @classmethod
    def read(cls, folder: Path) -> LocalConfig:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        return cls(
            str(data.get("model_type", "")), int(data["hidden_size"]), int(data.get("max_position_embeddings", 512))
        )


class FastTokenizer:
    """The folder's tokenizer.json run by the Rust ``tokenizers`` library directly: the ids
    transformers gives (the same file, the same library; a test compares them) without
    importing transformers, which costs a CLI command seconds."""

    def __init__(self, folder: Path, max_length: int):
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        pad = config.get("pad_token", "<pad>")
        pad = pad.get("content", "<pad>") if isinstance(pad, dict) else str(pad)
        pad_id = self._tokenizer.token_to_id(pad)
        if pad_id is None:
            raise ModelError(f"tokenizer of {folder} has no pad token {pad!r}")
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.enable_padding(pad_id=pad_id, pad_token=pad)

    @staticmethod
    def fits(folder: Path) -> bool:
        """A folder whose tokenizer is all in tokenizer.json (a fast tokenizer's save)."""
        return (folder / "tokenizer.json").is_file() and (folder / "tokenizer_config.json").is_file()

    def batch(self, texts: list[str]) -> dict[str, np.ndarray]:
        encodings = self._tokenizer.encode_batch(texts)
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        }


@contextmanager
def _model_errors(ref: str) -> Iterator[None]:
    """transformers' loading errors as one ModelError line."""
    try:
        yield
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot load model {ref!r}: {first}") from None


def encoder_meta_without_loading(settings: Settings) -> ModelMeta | None:
    """ModelMeta from a prepared folder's manifest, without loading weights."""
    folder = Path(settings.model_ref)
    manifest = read_manifest(folder) if folder.is_dir() else None
    if not manifest:
        return None
    return ModelMeta(
        name=manifest.get("name", folder.name),
        fingerprint=with_precision(
            manifest["fingerprint"], settings.quantize_int8, resolve_backend(settings.backend, settings.device)
        ),
        dims=int(manifest["dims"]),
        query_prefix=manifest.get("query_prefix", ""),
        passage_prefix=manifest.get("passage_prefix", ""),
        languages=manifest_languages(manifest, folder.name),
    )


def manifest_languages(manifest: dict[str, Any], name: str) -> tuple[str, ...]:
    """The languages a model declares: its manifest's list, else its (or its base's) model card."""
    if manifest.get("languages"):
        return tuple(manifest["languages"])
    return model_languages(manifest.get("name") or name, (manifest.get("training") or {}).get("base_model"))

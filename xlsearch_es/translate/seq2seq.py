"""Neural translation with encoder-decoder models (MarianMT, M2M100, NLLB...).

Loads any such model from a local folder or hub id through transformers, so a
user with real weights gets real translations through this one code path.
Language codes are mapped per model family: NLLB wants ``deu_Latn``, M2M100
``de``, a Marian model is one fixed pair.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from ..config import Settings
from ..errors import ModelError
from .base import Backend

NLLB_CODES = {
    "ar": "arb_Arab",
    "de": "deu_Latn",
    "en": "eng_Latn",
    "es": "spa_Latn",
    "fr": "fra_Latn",
    "it": "ita_Latn",
    "ja": "jpn_Jpan",
    "ko": "kor_Hang",
    "nl": "nld_Latn",
    "pl": "pol_Latn",
    "pt": "por_Latn",
    "ru": "rus_Cyrl",
    "tr": "tur_Latn",
    "zh": "zho_Hans",
}


class Seq2SeqBackend(Backend):
    name = "seq2seq"

    def __init__(
        self,
        model: str,
        device: str = "cpu",
        max_input_tokens: int = 256,
        max_new_tokens: int = 128,
        num_beams: int = 1,
        batch_size: int = 16,
    ):
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        if Path(model).expanduser().exists():
            model = str(Path(model).expanduser())
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            self.model = AutoModelForSeq2SeqLM.from_pretrained(model).eval().to(device)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot load translation model {model!r}: {str(exc).splitlines()[0]}") from None
        self.ref, self.device = model, device
        self.max_input_tokens, self.max_new_tokens = max_input_tokens, max_new_tokens
        self.num_beams, self.batch_size = num_beams, batch_size
        self.family = self.model.config.model_type  # marian | m2m_100 | nllb-moe | ...
        self._lock = threading.Lock()  # tokenizer src_lang is state shared across calls
        cfg = self.model.config.to_json_string()
        self._fp = "seq2seq-" + hashlib.sha256((model + cfg).encode()).hexdigest()[:12]

    def fingerprint(self) -> str:
        return self._fp

    def _codes(self, src: str, tgt: str) -> tuple[str | None, str | None]:
        vocab = self.tokenizer.get_vocab()
        for mapping in (NLLB_CODES, {c: f"__{c}__" for c in NLLB_CODES}, {c: c for c in NLLB_CODES}):
            s, t = mapping.get(src), mapping.get(tgt)
            if s in vocab and t in vocab or (s and t and hasattr(self.tokenizer, "lang_code_to_id")):
                return s, t
        return None, None  # a single-pair model (Marian): no codes

    def translate_masked(self, texts: list[str], src: str, tgt: str) -> list[str]:
        import torch

        src_code, tgt_code = self._codes(src, tgt)
        out: list[str] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            with self._lock:
                if src_code and hasattr(self.tokenizer, "src_lang"):
                    self.tokenizer.src_lang = src_code
                enc = self.tokenizer(
                    batch, return_tensors="pt", padding=True, truncation=True, max_length=self.max_input_tokens
                ).to(self.device)
            kwargs = {"max_new_tokens": self.max_new_tokens, "num_beams": self.num_beams, "do_sample": False}
            if tgt_code:
                tgt_id = self.tokenizer.convert_tokens_to_ids(tgt_code)
                if isinstance(tgt_id, int) and tgt_id != self.tokenizer.unk_token_id:
                    kwargs["forced_bos_token_id"] = tgt_id
            with torch.inference_mode():
                generated = self.model.generate(**enc, **kwargs)
            out.extend(self.tokenizer.batch_decode(generated, skip_special_tokens=True))
        return [o.strip() for o in out]


def make_seq2seq(settings: Settings) -> Seq2SeqBackend:
    """A transformers encoder-decoder (Marian, NLLB, M2M...) from --translator-model."""
    from .factory import needs_model

    return Seq2SeqBackend(needs_model("seq2seq", settings), device=settings.device)

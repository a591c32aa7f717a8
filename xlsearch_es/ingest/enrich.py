"""Enrich: one batch of products into index actions (detect, translate, embed, build).

A batch function with no cluster I/O: what the index already holds comes in as
``existing`` (content hash, creation time and judged vectors by id), so the same
step runs in this process's pipeline or on a distributed engine's workers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..embed.base import Embedder
from ..mapping import JUDGED_PATTERN, JUDGED_SUFFIX, TEXT_FIELDS
from ..runtime import IndexRuntime
from ..text.attributes import product_attributes
from ..text.langid import DEFAULT_CANDIDATES, LanguageDetector
from ..text.segment import Segmenter
from ..translate.base import Translator
from .document import build_document, content_hash, passage_text, texts_to_translate
from .records import Product, Rejection
from .sink import Action, index_action

log = logging.getLogger(__name__)
# What is read of a product the index holds: whether it changed, when it was created, and
# its judged vectors (learn/judged.py), which a changed product keeps until the next learn.
EXISTING_FIELDS = ["content_hash", "created_at", JUDGED_PATTERN]


@dataclass(frozen=True)
class EnrichContext:
    """What enriching needs; loaded once per process (models are not pickled)."""

    languages: tuple[str, ...]
    translator: Translator
    embedders: Mapping[str, Embedder]  # vector field -> embedder
    detector: LanguageDetector
    segmented: tuple[str, ...] = ()  # languages whose words go to words.<lang> (the index's _meta says which)
    segmenter: Segmenter = field(default_factory=Segmenter)
    attribute_fields: tuple[str, ...] = ()  # attr.<kind> fields the index maps (older indices: none)

    def models_fingerprint(self) -> str:
        """Part of each document's content hash: a new model re-embeds every product."""
        fps = [(f, e.fingerprint) for f, e in self.embedders.items()]
        return fps[0][1] if len(fps) == 1 else "+".join(f"{f}={fp}" for f, fp in fps)


def enrich_context(runtime: IndexRuntime) -> EnrichContext:
    """The one way a context is made (batch load, Ray actor, gateway write), so a product
    gives the same document whichever path writes it: from the index's runtime, its
    languages, the ones it cuts into words and its attribute fields."""
    languages = tuple(runtime.languages)
    return EnrichContext(
        languages=languages,
        translator=runtime.translator,
        embedders=runtime.embedders,
        detector=LanguageDetector(
            candidates=tuple(dict.fromkeys(DEFAULT_CANDIDATES + languages)),
            fallback=runtime.settings.fallback_language,
        ),
        segmented=runtime.segmented,
        attribute_fields=runtime.attribute_fields,
    )


@dataclass
class Enriched:
    actions: list[Action] = field(default_factory=list)
    unchanged: int = 0
    rejections: list[Rejection] = field(default_factory=list)  # products enrichment could not handle
    embedded: int = 0
    translated: int = 0  # strings the backend translated (not found in the translation memory)
    timings: dict[str, float] = field(default_factory=lambda: {"translate": 0.0, "embed": 0.0})


def enrich(products: Sequence[Product], existing: Mapping[str, Mapping[str, Any]], ctx: EnrichContext) -> Enriched:
    """Actions for the products whose content changed; the others are counted unchanged."""
    out = Enriched()
    model_fp, tr_fp = ctx.models_fingerprint(), ctx.translator.backend.fingerprint()
    todo: list[tuple[Product, str, str]] = []
    for p in products:
        lang = p.language or ctx.detector.detect(f"{p.title} {p.description[:200]}").lang
        digest = content_hash(p, ctx.languages, tr_fp, model_fp)
        if existing.get(p.id, {}).get("content_hash") == digest:
            out.unchanged += 1
        else:
            todo.append((p, lang, digest))
    if not todo:
        return out

    def translate() -> dict[str, dict[str, dict[str, str]]]:
        t0 = time.perf_counter()
        done = _translate([(p, lang) for p, lang, _ in todo], ctx)
        out.timings["translate"] += time.perf_counter() - t0
        return done

    # The vectors are of the original text, so the batch's translation runs beside
    # its embedding: the encoders release the GIL, and a cold translation no longer
    # adds its time to the model's (measured: benchmarks/bench_ingest.py).
    before = ctx.translator.stats["translated"]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="translate") as pool:
        pending = pool.submit(translate)
        t0 = time.perf_counter()
        passages = [passage_text(p) for p, _, _ in todo]
        vectors = {f: e.encode(passages, role="passage") for f, e in ctx.embedders.items()}
        out.timings["embed"] += time.perf_counter() - t0
        translations = pending.result()
    out.translated = ctx.translator.stats["translated"] - before
    out.embedded = len(todo)
    for i, (p, lang, digest) in enumerate(todo):
        created = existing.get(p.id, {}).get("created_at")
        doc = build_document(
            p,
            lang,
            translations[p.id],
            {f: v[i] for f, v in vectors.items()},
            digest,
            created,
            words=_words(translations[p.id], ctx),
            attributes=_attributes(p, lang, translations[p.id], ctx),
        )
        doc.update({k: v for k, v in existing.get(p.id, {}).items() if k.endswith(JUDGED_SUFFIX)})
        out.actions.append((index_action(p.id), doc))
    return out


def _attributes(
    p: Product, lang: str, per_lang: Mapping[str, Mapping[str, str]], ctx: EnrichContext
) -> dict[str, list[str]]:
    """The colours and materials the product's English title (or its attributes) name,
    for the attr fields the index maps."""
    if not ctx.attribute_fields:
        return {}
    english = per_lang.get("en", {}).get("title") or (p.title if lang == "en" else "")
    found = product_attributes(english, p.attributes)
    return {k: v for k, v in found.items() if k in ctx.attribute_fields}


def _words(per_lang: Mapping[str, Mapping[str, str]], ctx: EnrichContext) -> dict[str, str]:
    """The product's text in each segmented language, cut into words."""
    out = {}
    for lang in ctx.segmented:
        text = " ".join(per_lang.get(lang, {}).get(f, "") for f in TEXT_FIELDS)
        segmented = ctx.segmenter.segment(text, lang)
        if segmented:
            out[lang] = segmented
    return out


def _translate(todo: list[tuple[Product, str]], ctx: EnrichContext) -> dict[str, dict[str, dict[str, str]]]:
    """id -> language -> field -> text: one call per (source, target) pair and field, each string once."""
    translations: dict[str, dict[str, dict[str, str]]] = {p.id: {} for p, _ in todo}
    by_src: dict[str, list[Product]] = {}
    for p, lang in todo:
        by_src.setdefault(lang, []).append(p)
        if lang in ctx.languages:
            translations[p.id][lang] = texts_to_translate(p)
    backend = ctx.translator.backend
    for src, group in by_src.items():
        brands = {p.brand for p in group if p.brand}
        for tgt in ctx.languages:
            if tgt == src or not backend.supports(src, tgt):
                continue
            for fld in TEXT_FIELDS:
                items = [(p, getattr(p, fld)) for p in group if getattr(p, fld)]
                if fld == "brand" or not items:  # brand names are kept as written
                    for p, text in items:
                        translations[p.id].setdefault(tgt, {})[fld] = text
                    continue
                outs = ctx.translator.translate([t for _, t in items], src, tgt, brands=brands)
                for (p, _), translated in zip(items, outs):
                    translations[p.id].setdefault(tgt, {})[fld] = translated
    return translations


# Errors that are not one product's fault: they stop the run instead of rejecting products.
FATAL = (KeyboardInterrupt, MemoryError)


def enrich_safely(
    products: Sequence[Product], existing: Mapping[str, Mapping[str, Any]], ctx: EnrichContext
) -> Enriched:
    """``enrich``; if the batch fails, product by product, so only the product that
    breaks it is rejected (with the error) and the run goes on."""
    try:
        return enrich(products, existing, ctx)
    except FATAL:
        raise
    except Exception:  # isolated below, product by product
        log.warning("a batch failed to build; retrying its %d products one by one", len(products))
    out = Enriched()
    for product in products:
        try:
            one = enrich([product], existing, ctx)
        except FATAL:
            raise
        except Exception as exc:  # this product is the one that breaks enrichment
            out.rejections.append(
                Rejection(
                    line=product.line,
                    id=product.id,
                    raw="",
                    reason=f"could not be translated or embedded: {type(exc).__name__}: {exc}",
                )
            )
            continue
        out.actions += one.actions
        out.unchanged += one.unchanged
        out.embedded += one.embedded
        out.translated += one.translated
        for k, v in one.timings.items():
            out.timings[k] += v
    return out

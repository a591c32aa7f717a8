"""From a validated product (plus translations and a vector) to an index document.

Pure functions. The ``_id`` is the product id, so re-running a load overwrites
instead of duplicating; the content hash covers the product and everything
that shapes its document (languages, translator, model), so a re-run can skip
unchanged products without re-embedding them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..mapping import ORIGINAL, TEXT_FIELDS
from ..text.normalize import protected_strings
from .records import Product

EMBED_DESCRIPTION_CHARS = 600


def content_hash(product: Product, languages: Sequence[str], translator_fp: str, model_fp: str) -> str:
    payload = {
        "product": product.content(),
        "languages": list(languages),
        "translator": translator_fp,
        "model": model_fp,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def passage_text(product: Product) -> str:
    """What the vector encodes: the product in its own words, most telling first."""
    parts = [product.title, product.brand, product.category, product.description[:EMBED_DESCRIPTION_CHARS]]
    return " | ".join(p for p in parts if p)


SOURCE_FOR_PASSAGE = ["title.original", "brand.original", "category_path", "description.original"]


def passage_from_source(src: Mapping[str, Any]) -> str:
    """``passage_text`` rebuilt from an indexed document (fetch ``SOURCE_FOR_PASSAGE``)."""
    parts = [
        (src.get("title") or {}).get(ORIGINAL, ""),
        (src.get("brand") or {}).get(ORIGINAL, ""),
        src.get("category_path") or "",
        ((src.get("description") or {}).get(ORIGINAL) or "")[:EMBED_DESCRIPTION_CHARS],
    ]
    return " | ".join(p for p in parts if p)


def texts_to_translate(product: Product) -> dict[str, str]:
    return {f: getattr(product, f) for f in TEXT_FIELDS if getattr(product, f)}


def build_document(
    product: Product,
    source_language: str,
    translations: Mapping[str, Mapping[str, str]],
    vectors: Mapping[str, Sequence[float]],
    digest: str,
    created_at: str | None = None,
    *,
    words: Mapping[str, str] | None = None,
    attributes: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The whole document, assembled here only. ``translations`` maps language ->
    field -> text (the source language included); ``vectors`` maps vector field ->
    the product's vector; ``words``: language -> its text cut into words (languages
    the index segments); ``attributes``: canonical colours and materials (attr.*)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    doc: dict[str, Any] = {
        "id": product.id,
        "source_language": source_language,
        "languages": sorted(translations),
        "brand_exact": product.brand.casefold() or None,
        "category_path": product.category or None,
        "attributes": dict(product.attributes),
        "price": product.price,
        "currency": product.currency,
        "availability": product.availability,
        "url": product.url,
        "image_url": product.image_url,
        "protected_tokens": sorted(
            {
                t.casefold()
                for t in protected_strings(
                    f"{product.title} {product.description[:EMBED_DESCRIPTION_CHARS]}", [product.brand]
                )
            }
        ),
        "content_hash": digest,
        "created_at": created_at or now,
        "updated_at": now,
        "words": dict(words or {}),
        "attr": {k: list(v) for k, v in (attributes or {}).items()},
    }
    for vector_field, vector in vectors.items():
        doc[vector_field] = [float(x) for x in vector]
    for field in TEXT_FIELDS:
        value = getattr(product, field)
        if not value:
            continue
        per_lang = {ORIGINAL: value}
        for lang, fields in translations.items():
            if fields.get(field):
                per_lang[lang] = fields[field]
        doc[field] = per_lang
    return {k: v for k, v in doc.items() if v is not None and v != {} and v != []}

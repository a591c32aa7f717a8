"""Learning from judgments: splits, click logs, fine-tuning, tuning, honest evaluation.

Training runs the real e5 for a few steps on a small set built here; tuning and
the three-command flow (train -> ingest --rebuild --model -> tune) run on the
real node.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from xlsearch_es.cli import main
from xlsearch_es.errors import XLSearchError
from xlsearch_es.relevance.judgments import SplitPolicy, load_beir, load_click_log

# Product families, each with shopper phrasings in several languages. Phrasings
# share words with each other, not with the product text, so there is something
# to learn, and a held-out phrasing can profit from the training ones.
FAMILIES = {
    "c1": ("garden hose reel", ["wasserschlauch trommel", "manguera jardin carrete", "hose cart green",
                                "schlauchwagen garten", "carrete de manguera", "hose reel wall mount",
                                "gartenschlauch aufroller", "manguera enrollador"]),
    "c2": ("kids bicycle helmet", ["fahrradhelm kinder", "casco bici niño", "toddler bike helmet",
                                   "kinderhelm fahrrad", "casco infantil bicicleta", "helmet for kids cycling",
                                   "helm kind rad", "casco ciclismo niños"]),
    "c3": ("stainless steel thermos bottle", ["thermoskanne edelstahl", "termo acero inoxidable", "vacuum flask",
                                              "isolierflasche", "botella termica", "insulated bottle 1l",
                                              "trinkflasche warm halten", "termo para cafe"]),
    "c4": ("wireless gaming mouse", ["kabellose maus gaming", "raton inalambrico juegos", "gamer mouse rgb",
                                     "funkmaus spiele", "mouse gamer inalambrico", "esports mouse wireless",
                                     "maus für gamer", "raton gaming"]),
    "c5": ("yoga mat non slip", ["yogamatte rutschfest", "esterilla yoga antideslizante", "exercise mat thick",
                                 "gymnastikmatte", "colchoneta ejercicio", "pilates mat",
                                 "fitnessmatte dick", "tapete de yoga"]),
    "c6": ("led desk lamp", ["schreibtischlampe led", "lampara escritorio led", "reading light table",
                             "tischleuchte büro", "flexo de estudio", "study lamp dimmable",
                             "leselampe tisch", "luz de mesa"]),
}


def _lang(text: str) -> str:
    german = ("ü", "ö", "ä", "schlauch", "kinder", "maus", "matte", "lampe", "helm", "flasche", "kanne",
              "leuchte", "gymnastik", "warm", "garten", "trommel", "spiele", "funk")
    spanish = ("manguera", "casco", "termo", "raton", "esterilla", "lampara", "flexo", "botella", "colchoneta",
               "tapete", "luz", "carrete", "niño", "mouse gamer", "bicicleta")
    if any(w in text for w in spanish):
        return "es"
    return "de" if any(w in text for w in german) else "en"


@pytest.fixture
def tiny_beir(tmp_path: Path) -> Path:
    folder = tmp_path / "tiny-shop"
    (folder / "qrels").mkdir(parents=True)
    docs = {cid: title for cid, (title, _) in FAMILIES.items()}
    docs.update({"d1": "garden hose nozzle", "d2": "adult road bike helmet", "d3": "plastic water bottle",
                 "d4": "wired office mouse", "d5": "yoga block cork", "d6": "ceiling lamp"})
    with (folder / "corpus.jsonl").open("w") as fh:
        for did, title in docs.items():
            fh.write(json.dumps({"_id": did, "title": title, "text": f"home > {title}"}) + "\n")
    rows = ["query-id\tcorpus-id\tscore"]
    with (folder / "queries.jsonl").open("w") as fh:
        for cid, (_, phrasings) in FAMILIES.items():
            for i, text in enumerate(phrasings):
                qid = f"{cid}-q{i}"
                fh.write(json.dumps({"_id": qid, "text": text, "lang": _lang(text)}, ensure_ascii=False) + "\n")
                rows.append(f"{qid}\t{cid}\t1")
                rows.append(f"{qid}\td{cid[1]}\t0")  # the look-alike is judged not relevant
    (folder / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n")
    return folder


def _tiny_shop_index(es_settings, model_settings, encoder, tiny_beir, index_name, tmp_path):
    """The tiny shop's corpus indexed in en, de and es (no translator): settings, cluster, translator, client."""
    from xlsearch_es.cluster.connection import connect
    from xlsearch_es.evaluation.dataset import corpus_as_catalog
    from xlsearch_es.ingest.pipeline import IngestOptions, IngestPipeline
    from xlsearch_es.search.client import XLSearchClient
    from xlsearch_es.translate.factory import make_translator

    settings_ = es_settings.replace(index=index_name, languages=("en", "de", "es"), home=model_settings.home,
                                    translator="none")
    catalog = tmp_path / "catalog.jsonl"
    corpus_as_catalog(tiny_beir, catalog)
    es = connect(settings_)
    translator = make_translator(settings_)
    IngestPipeline(settings_, es, encoder, translator, IngestOptions(path=str(catalog))).run()
    client = XLSearchClient(settings_, client=es, encoder=encoder, translator=translator)
    return settings_, es, translator, client


POLICY = SplitPolicy(holdout=0.25, validation=0.2)


def test_split_is_stable_and_ignores_case_and_spacing() -> None:
    policy = SplitPolicy()
    assert policy.split_of("de", "Rotes  Kleid") == policy.split_of("de", "rotes kleid")
    counts = {s: 0 for s in ("train", "validation", "test")}
    for i in range(4000):
        counts[policy.split_of("en", f"query {i}")] += 1
    assert 0.47 < counts["test"] / 4000 < 0.53 and 0.08 < counts["validation"] / 4000 < 0.12
    with pytest.raises(XLSearchError):
        SplitPolicy(holdout=0.95, validation=0.1)


class _FakeTuner:
    """Scores that depend only on the kNN weight, per language: the shape of a real tuner."""

    fields = ["vector"]

    def __init__(self, best_weight_by_lang: dict[str, float]):
        self.best_weight_by_lang = best_weight_by_lang

    def score(self, p, items):
        import math

        lang = items[0].query.lang
        return 1.0 - abs(math.log(p.knn_weight or 1.0) - math.log(self.best_weight_by_lang[lang])) / 10

    def best_of(self, candidates, items):
        scored = [(self.score(p, items), p) for p in candidates]
        score, best = max(scored, key=lambda sp: sp[0])
        return best, score


def _items(lang: str, n: int):
    from types import SimpleNamespace

    from xlsearch_es.relevance.judgments import Query

    return [SimpleNamespace(query=Query(f"{lang}{i}", "q", lang)) for i in range(n)]


def test_per_language_weights_shrink_toward_the_global_one_by_their_query_count() -> None:
    from xlsearch_es.learn.tune import SHRINK_QUERIES, _per_language, fold_of
    from xlsearch_es.search.tuning import SearchParams

    tuner = _FakeTuner({"de": 16.0, "fr": 16.0, "it": 1.0})
    best = SearchParams(fusion="rrf", knn_weight=1.0)
    items = _items("de", 300) + _items("fr", 50) + _items("it", 200) + _items("pl", 10)
    out = _per_language(tuner, best, items, lambda _m: None)
    # Each language's own best is 16 (de, fr) or the global 1 (it); pl has too few queries to try.
    de, fr = out["de"].knn_weight, out["fr"].knn_weight
    assert de == pytest.approx(16.0 ** (300 / (300 + SHRINK_QUERIES)), rel=1e-3)
    assert 1.0 < fr < de < 16.0 and "it" not in out and "pl" not in out
    # Folds come from the query id alone: the same on every run, and all of them used.
    folds = [fold_of(i) for i in items]
    assert folds == [fold_of(i) for i in items] and set(folds) == {0, 1, 2, 3, 4}


class _SplitTuner(_FakeTuner):
    """Two vector fields; per language, how much of the kNN weight the second field should get."""

    fields = ["vector", "vector_use"]

    def __init__(self, use_share_by_lang: dict[str, float]):
        super().__init__({lang: 2.0 for lang in use_share_by_lang})
        self.use_share_by_lang = use_share_by_lang

    def score(self, p, items):
        shares = p.knn_shares or (1.0, 1.0)
        use = shares[1] / sum(shares)
        return super().score(p, items) - abs(use - self.use_share_by_lang[items[0].query.lang]) / 4


def test_per_language_field_split_steps_an_encoder_back_where_it_hurts() -> None:
    """A language whose judgments say the second encoder hurts gets a split leaning to the
    first, shrunk toward the global even split by its query count; others keep the global."""
    from xlsearch_es.learn.tune import SHRINK_QUERIES, _per_language, shrink_shares
    from xlsearch_es.search.tuning import SearchParams

    tuner = _SplitTuner({"el": 0.0, "th": 0.5})
    best = SearchParams(fusion="rrf", knn_weight=2.0)
    out = _per_language(tuner, best, _items("el", 150) + _items("th", 150), lambda _m: None)
    share = 150 / (150 + SHRINK_QUERIES)
    assert out["el"].knn_shares == pytest.approx((0.5 + share * 0.5, 0.5 - share * 0.5), abs=1e-3)
    assert "th" not in out  # its best is the global split: nothing to override
    assert shrink_shares((3.0, 1.0), None, 2, 0.0) == (0.5, 0.5)
    assert shrink_shares((3.0, 1.0), (1.0, 0.0), 2, 1.0) == (0.75, 0.25)


def test_components_report_names_languages_where_the_hybrid_is_below_a_part() -> None:
    from types import SimpleNamespace

    from xlsearch_es.learn.tune import components_report
    from xlsearch_es.search.tuning import SearchParams

    parts = {"de": {"bm25": 0.2, "vector": 0.5}, "fr": {"bm25": 0.2, "vector": 0.3}}
    hybrid = {"de": 0.4, "fr": 0.45}
    tuner = SimpleNamespace(
        items=_items("de", 3) + _items("fr", 3),
        score=lambda p, items: hybrid[items[0].query.lang],
        components=lambda p, items: parts[items[0].query.lang],
    )
    report = components_report(tuner, SearchParams(knn_weight=1.0), {})
    assert report["hybrid_below_a_part"] == ["de"]
    assert report["per_language"]["fr"] == {"hybrid": 0.45, "bm25": 0.2, "vector": 0.3}


def test_click_log_grades_and_dead_letters(tmp_path: Path) -> None:
    log = tmp_path / "clicks.jsonl"
    log.write_text("\n".join([
        json.dumps({"query": "rotes kleid", "product_id": "p1", "clicks": 3, "lang": "de"}),
        json.dumps({"query": "Rotes  Kleid", "product_id": "p1", "purchases": 1, "lang": "de"}),
        json.dumps({"query": "rotes kleid", "product_id": "p2", "clicks": 0, "lang": "de"}),
        json.dumps({"query": "red dress", "product_id": 7}),
        "{broken",
        json.dumps({"query": "", "product_id": "p1"}),
        json.dumps({"query": "x", "product_id": "unknown"}),
        json.dumps({"query": "x", "product_id": "p1", "clicks": "many"}),
        json.dumps({"query": "x", "product_id": "p1", "lang": "german"}),
    ]) + "\n")
    j = load_click_log(log, {"p1": "red dress", "p2": "blue dress", "7": "red gown"})
    grades = {j.queries[q].text: g for q, g in j.qrels.items()}
    assert grades["rotes kleid"] == {"p1": 2, "p2": 0} and grades["red dress"] == {"7": 1}
    reasons = {r.line: r.reason for r in j.rejected}
    assert set(reasons) == {5, 6, 7, 8, 9}
    assert "missing query" in reasons[6] and "not in the catalog" in reasons[7] and "clicks" in reasons[8]


@pytest.mark.model
@pytest.mark.slow
def test_fine_tuning_lowers_the_loss_and_lifts_held_out_queries(model_settings, tiny_beir, tmp_path) -> None:
    from xlsearch_es.embed.encoder import Encoder, spec_from_settings
    from xlsearch_es.learn.train import TrainOptions, train_encoder

    judgments = load_beir(tiny_beir)
    held_out = judgments.split(POLICY, "test")
    assert held_out and judgments.split(POLICY, "train")
    out = tmp_path / "ft"
    options = TrainOptions(out=out, epochs=6, batch_size=8, learning_rate=1e-4, eval_every=5, patience=10,
                           split=POLICY, seed=3, merge=False)
    manifest = train_encoder(model_settings, judgments, options, say=lambda m: None)
    training = manifest["training"]
    assert manifest["fingerprint"] and training["data_hash"] == judgments.data_hash
    assert training["final_loss"] < training["first_loss"]
    history = [v["ndcg@10"] for v in training["validation_history"]]
    assert max(history) >= history[0]

    def margins(model_dir: str) -> float:
        enc = Encoder(spec_from_settings(model_settings.replace(model=model_dir)))
        ids = sorted(judgments.passages)
        docs = enc.encode([judgments.passages[i] for i in ids], role="passage")
        total = 0.0
        for q in held_out:
            sims = dict(zip(ids, enc.encode([q.text], role="query")[0] @ docs.T))
            rel = next(iter(judgments.relevant(q.id)))
            total += sims[rel] - max(v for d, v in sims.items() if d != rel)
        return total / len(held_out)

    assert margins(str(out)) > margins(model_settings.model_ref) + 0.01
    saved = json.loads((out / "xlsearch_manifest.json").read_text())
    assert saved["training"]["base_fingerprint"] and saved["query_prefix"] == "query: "


def test_hard_negatives_never_hold_a_relevant_product(tiny_beir) -> None:
    from xlsearch_es.learn.train import hard_negatives

    judgments = load_beir(tiny_beir)
    mined = {qid: sorted(judgments.passages) for qid in judgments.queries}
    negatives = hard_negatives(judgments, mined)
    for qid, negs in negatives.items():
        assert not set(negs) & set(judgments.relevant(qid))
        judged_bad = [d for d, g in judgments.qrels[qid].items() if g == 0]
        assert negs[:len(judged_bad)] == judged_bad  # judged non-relevant products come first


@pytest.mark.es
@pytest.mark.model
@pytest.mark.slow
def test_three_commands_train_rebuild_tune(es_settings, model_settings, tiny_beir, index_name, tmp_path) -> None:
    """A shop's flow: train on judgments, rebuild the index with the model, tune it."""
    from xlsearch_es.evaluation.dataset import corpus_as_catalog

    catalog = tmp_path / "catalog.jsonl"
    corpus_as_catalog(tiny_beir, catalog)
    runner = CliRunner()
    base = ["--url", es_settings.es_url]
    first = runner.invoke(main, base + ["ingest", str(catalog), "--index", index_name, "--languages", "en,de,es",
                                        "--translator", "none", "--json"])
    assert first.exit_code == 0, first.output
    out = tmp_path / "model"
    trained = runner.invoke(main, base + ["train", str(tiny_beir), "--out", str(out), "--epochs", "2",
                                          "--batch-size", "8", "--holdout", "0.2", "--validation", "0.35",
                                          "--index", index_name, "--json"])
    assert trained.exit_code == 0, trained.output
    manifest = json.loads(trained.stdout)
    rebuilt = runner.invoke(main, base + ["--model", str(out), "ingest", str(catalog), "--index", index_name,
                                          "--rebuild", "--translator", "none", "--json"])
    assert rebuilt.exit_code == 0, rebuilt.output
    tuned = runner.invoke(main, base + ["--model", str(out), "tune", str(tiny_beir), "--index", index_name,
                                        "--holdout", "0.2", "--validation", "0.35", "--json"])
    assert tuned.exit_code == 0, tuned.output
    result = json.loads(tuned.stdout)
    assert result["queries"] >= 10 and result["tuned"] >= result["defaults"]
    from xlsearch_es.cluster.connection import connect
    from xlsearch_es.cluster.indices import read_meta

    meta = read_meta(connect(es_settings), index_name)
    assert meta["model"]["fingerprint"] == manifest["fingerprint"]
    assert meta["tuning_history"][-1]["data"] == "tiny-shop"
    if result["improved"]:
        assert meta["tuning"]["version"] == 1
        shown = runner.invoke(main, base + ["--model", str(out), "search", "hose reel", "--index", index_name,
                                            "--explain"])
        assert shown.exit_code == 0 and "tuned (v1" in shown.output
    else:
        assert "tuning" not in meta and meta["tuning_history"][-1]["kept_defaults"]


@pytest.mark.es
@pytest.mark.model
def test_tuning_is_stored_versioned_and_explicit_arguments_win(es_settings, model_settings, encoder, tiny_beir,
                                                               index_name, tmp_path) -> None:
    from xlsearch_es.learn.tune import store
    from xlsearch_es.search.client import XLSearchClient
    from xlsearch_es.search.tuning import SearchParams

    settings_, es, translator, client = _tiny_shop_index(es_settings, model_settings, encoder, tiny_beir, index_name,
                                                         tmp_path)
    judgments = load_beir(tiny_beir)
    params = SearchParams(fusion="rrf", knn_weight=8.0, rank_window=50)
    result = {"improved": True, "params": params, "per_language": {"de": SearchParams(knn_weight=0.5)},
              "queries": 12, "defaults": 0.5, "tuned": 0.6}
    assert store(client, result, judgments).version == 1
    assert store(client, result, judgments).version == 2
    fresh = XLSearchClient(settings_, client=es, encoder=encoder, translator=translator)
    resp = fresh.search("hose reel", lang="en", k=3)
    assert resp.fusion == "rrf" and resp.tuning["applied"]["knn_weight"] == 8.0
    assert resp.tuning["source"] == "v2"
    de = fresh.search("schlauchwagen", lang="de", k=3)
    assert de.tuning["applied"]["knn_weight"] == 0.5 and "de override" in de.tuning["source"]
    explicit = fresh.search("hose reel", lang="en", k=3, fusion="zscore", knn_weight=1.0)
    assert explicit.fusion == "zscore" and "knn_weight" not in explicit.tuning.get("applied", {})
    # A tune that does not beat the defaults clears the stored parameters and says so.
    store(fresh, {**result, "improved": False}, judgments)
    meta = es.indices.get_mapping(index=index_name)
    meta = next(iter(meta.values()))["mappings"]["_meta"]
    assert "tuning" not in meta and meta["tuning_history"][-1]["kept_defaults"]


def test_eval_refuses_to_report_a_model_on_queries_it_was_trained_on(tiny_beir, tmp_path, base_settings) -> None:
    from xlsearch_es.evaluation.runner import run_eval
    from xlsearch_es.relevance.judgments import beir_hash

    model = tmp_path / "model"
    model.mkdir()
    (model / "xlsearch_manifest.json").write_text(json.dumps({
        "name": "ft", "fingerprint": "abc", "dims": 384,
        "training": {"data_hash": beir_hash(tiny_beir), "split": SplitPolicy().as_dict()}}))
    for split in ("all", "train", "validation"):
        with pytest.raises(XLSearchError, match="reported only on --split test"):
            run_eval(base_settings.replace(model=str(model)), tiny_beir, split=split)


@pytest.mark.es
@pytest.mark.model
@pytest.mark.slow
def test_reranker_trains_from_the_encoder_and_reorders_the_top(es_settings, model_settings, encoder, tiny_beir,
                                                                 index_name, tmp_path) -> None:
    from xlsearch_es.cluster.connection import connect
    from xlsearch_es.evaluation.dataset import corpus_as_catalog
    from xlsearch_es.ingest.pipeline import IngestOptions, IngestPipeline
    from xlsearch_es.learn.rerank import Reranker, RerankOptions, train_reranker
    from xlsearch_es.search.client import XLSearchClient
    from xlsearch_es.translate.factory import make_translator

    out = tmp_path / "reranker"
    manifest = train_reranker(model_settings, load_beir(tiny_beir), RerankOptions(out=out, split=POLICY),
                              say=lambda m: None)
    assert manifest["kind"] == "reranker" and manifest["training"]["steps"] >= 3
    assert set(manifest["training"]["validation_ndcg@10_top20"]) == {"encoder_order", "reranked", "blended"}
    reranker = Reranker(str(out))
    assert len(reranker.score("hose reel", ["garden hose reel", "led desk lamp"])) == 2

    settings_ = es_settings.replace(index=index_name, languages=("en",), home=model_settings.home, translator="none")
    catalog = tmp_path / "catalog.jsonl"
    corpus_as_catalog(tiny_beir, catalog)
    es = connect(settings_)
    translator = make_translator(settings_)
    IngestPipeline(settings_, es, encoder, translator, IngestOptions(path=str(catalog))).run()
    client = XLSearchClient(settings_, client=es, encoder=encoder, translator=translator, reranker=reranker)
    ranked = client.search("garden hose", k=20, fusion="rrf", explain=True)
    plain = client.search("garden hose", k=20, fusion="rrf", explain=True, rerank=False)
    assert "rerank" in ranked.timings_ms and "rerank" not in plain.timings_ms
    assert all("rerank" in h.components["scores"] for h in ranked.hits)
    assert sorted(h.id for h in ranked.hits) == sorted(h.id for h in plain.hits)
    assert [h.score for h in ranked.hits] == sorted((h.score for h in ranked.hits), reverse=True)


def test_adapter_learns_a_hidden_rotation_of_the_query_space() -> None:
    """Queries are their product's vector turned by a fixed rotation: the plain cosine
    ranks them badly, the fitted adapter undoes the turn on queries it never saw."""
    from xlsearch_es.learn.adapter import AdapterOptions, fit_adapter, validation_ndcg

    rng = np.random.default_rng(0)
    dims, n_docs = 16, 60
    docs = rng.normal(size=(n_docs, dims)).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    rotation, _ = np.linalg.qr(rng.normal(size=(dims, dims)))
    def queries(targets):
        q = docs[targets] @ rotation.astype(np.float32) + 0.05 * rng.normal(size=(len(targets), dims))
        return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
    train_t, val_t = rng.integers(0, n_docs, 600), rng.integers(0, n_docs, 100)
    doc_ids = [f"d{i}" for i in range(n_docs)]
    val_qrels = [{f"d{t}": 1} for t in val_t]
    options = AdapterOptions(out=Path("unused"), learning_rate=3e-2, epochs=30, batch_size=64, patience=30)
    weights, report = fit_adapter(docs, queries(train_t), [[int(t)] for t in train_t], queries(val_t), val_qrels,
                                  doc_ids, options, say=lambda m: None)
    plain = validation_ndcg(docs, queries(val_t), val_qrels, doc_ids, None)
    adapted = validation_ndcg(docs, queries(val_t), val_qrels, doc_ids, weights)
    assert plain < 0.3 and adapted > 0.8, (plain, adapted)
    assert report["validation_ndcg@10"]["adapted"] >= report["validation_ndcg@10"]["plain"]


@pytest.mark.model
def test_query_adapter_trains_on_use_and_changes_only_query_vectors(tiny_beir, tmp_path) -> None:
    """Real USE weights: the adapter folder loads through load_embedders, turns query
    vectors and leaves product vectors (and the model fingerprint) as they were; an
    adapter trained for other weights is refused."""
    from xlsearch_es.config import Settings
    from xlsearch_es.embed.adapter import ADAPTER_MANIFEST, adapter_fingerprint
    from xlsearch_es.embed.base import load_embedders
    from xlsearch_es.errors import ConfigError
    from xlsearch_es.learn.adapter import AdapterOptions, train_query_adapters

    settings = Settings(encoders=("use",), threads=1)
    out = tmp_path / "adapter"
    manifest = train_query_adapters(settings, load_beir(tiny_beir),
                                    AdapterOptions(out=out, split=POLICY, epochs=3, min_gain=-1.0), say=lambda m: None)
    assert set(manifest["adapters"]) == {"use"} and (out / "use.npy").is_file()
    plain = load_embedders(settings)["embedding_use"]
    adapted = load_embedders(settings.replace(query_adapter=str(out)))["embedding_use"]
    assert adapted.fingerprint == plain.fingerprint and adapted.meta() == plain.meta()
    texts = ["garden hose", "Gartenschlauch"]
    assert np.allclose(adapted.encode(texts, role="passage"), plain.encode(texts, role="passage"))
    turned = adapted.encode(texts, role="query")
    assert not np.allclose(turned, plain.encode(texts, role="query"))
    assert np.allclose(np.linalg.norm(turned, axis=1), 1.0, atol=1e-5)
    assert adapter_fingerprint(out) == adapter_fingerprint(out) is not None
    data = json.loads((out / ADAPTER_MANIFEST).read_text())
    data["adapters"]["use"]["base_fingerprint"] = "0" * 16
    (out / ADAPTER_MANIFEST).write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="trained on model"):
        load_embedders(settings.replace(query_adapter=str(out)))
    with pytest.raises(ConfigError, match="no adapter.json"):
        load_embedders(settings.replace(query_adapter=str(tmp_path)))


@pytest.mark.model
def test_train_adapter_command(tiny_beir, tmp_path) -> None:
    """The CLI writes the folder (or says no adapter gained) and refuses two kinds of training at once."""
    runner = CliRunner()
    out = tmp_path / "adapter"
    done = runner.invoke(main, ["train", str(tiny_beir), "--adapter", "use", "--out", str(out), "--holdout", "0.25",
                                "--validation", "0.2", "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.output[done.output.index("{"):])
    assert set(report["adapters"]) | set(report["not_written"]) == {"use"}
    assert (out / "adapter.json").is_file() and (out / "use.npy").is_file() == ("use" in report["adapters"])
    both = runner.invoke(main, ["train", str(tiny_beir), "--adapter", "use", "--reranker", "--out",
                                str(tmp_path / "x")])
    assert both.exit_code == 2 and "pick one" in both.output
    unknown = runner.invoke(main, ["train", str(tiny_beir), "--adapter", "nope", "--out", str(tmp_path / "y")])
    assert unknown.exit_code == 2
    from dataclasses import replace

    from xlsearch_es.config import Settings
    from xlsearch_es.learn.adapter import AdapterOptions, train_query_adapters

    unjudged = replace(load_beir(tiny_beir), qrels={})
    with pytest.raises(XLSearchError, match="relevant product in both"):
        train_query_adapters(Settings(), unjudged, AdapterOptions(out=tmp_path / "z"), say=lambda m: None)


def test_blended_rerank_needs_both_orders_to_move_a_product() -> None:
    """Blend: the reciprocal ranks of the fused order and the cross-encoder's. A product
    the cross-encoder alone loves rises but does not jump over the fused top by itself."""
    from xlsearch_es.search.results import blended_rerank_scores

    cross = [0.1, 0.2, 0.3, 0.9]  # fused order 0,1,2,3; the cross-encoder reverses it
    scores = blended_rerank_scores(cross, 20)
    assert len(scores) == 4
    # Fully reversed orders tie everywhere: each product gets 1/(20+i+1) + 1/(20+4-i).
    assert max(scores) - min(scores) < 1e-3
    agree = blended_rerank_scores([0.9, 0.5, 0.4, 0.1], 20)
    assert agree == sorted(agree, reverse=True) and agree[0] == 2 / 21
    loved = blended_rerank_scores([0.9, 0.8, 0.1, 0.95], 20)  # the fused last is the cross-encoder's first
    assert sorted(range(4), key=lambda i: -loved[i]) == [0, 3, 1, 2]


def test_reranker_validation_reorders_only_what_search_hands_over() -> None:
    """The validation lists are the encoder's own top (no relevant product added): a
    relevant product the encoder missed must not make the reranker look good."""
    import random

    from xlsearch_es.learn.rerank import RERANK_DEPTH, _validation_lists

    class _Q:
        def __init__(self, qid: str) -> None:
            self.id = qid

    candidates = {"q1": [f"d{i}" for i in range(30)], "q2": [f"e{i}" for i in range(5)]}
    shuffled, base = _validation_lists([_Q("q1"), _Q("q2")], candidates, random.Random(1))
    assert base["q1"] == candidates["q1"][:RERANK_DEPTH] and base["q2"] == candidates["q2"]
    assert sorted(shuffled["q1"]) == sorted(base["q1"]) and shuffled["q1"] != base["q1"]


def test_reranker_head_starts_from_the_first_token_where_the_encoder_had_no_pooler() -> None:
    """e5's checkpoint has no pooler: a random one would hide the encoder's first-token
    vector from the classifier, so it starts as the identity; a trained pooler is kept."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from xlsearch_es.learn.rerank import _init_head

    config = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, num_labels=1)
    model = BertForSequenceClassification(config)
    trained = model.bert.pooler.dense.weight.detach().clone()
    head = _init_head(model, pooler_trained=True)
    assert torch.equal(model.bert.pooler.dense.weight, trained)
    assert {id(p) for p in head} == {id(p) for p in [*model.bert.pooler.parameters(), *model.classifier.parameters()]}
    _init_head(model, pooler_trained=False)
    assert torch.equal(model.bert.pooler.dense.weight, torch.eye(8)) and not model.bert.pooler.dense.bias.any()


@pytest.mark.es
@pytest.mark.model
def test_leave_one_language_out_tunes_without_each_language(es_settings, model_settings, encoder, tiny_beir,
                                                            index_name, tmp_path) -> None:
    from xlsearch_es.evaluation.dataset import load_dataset
    from xlsearch_es.evaluation.loo import leave_one_language_out, render_loo

    settings_, es, translator, client = _tiny_shop_index(es_settings, model_settings, encoder, tiny_beir, index_name,
                                                         tmp_path)
    policy = SplitPolicy(holdout=0.4, validation=0.5)
    dataset = load_dataset(tiny_beir, split="test", policy=policy)
    said: list[str] = []
    loo = leave_one_language_out(client, load_beir(tiny_beir), dataset, policy, said.append)
    assert set(loo["rows"]) == set(dataset.languages) and len(loo["rows"]) >= 2
    for lang, row in loo["rows"].items():
        assert row["test_queries"] == sum(q.get("lang") == lang for q in dataset.queries)
        for name in ("defaults", "tuned_without", "widest_encoder_alone"):
            assert 0.0 <= row[name]["mrr@10"] <= 1.0
        # One encoder: "the widest encoder alone" is the defaults themselves.
        assert row["defaults"] == row["widest_encoder_alone"]
    assert loo["rule"]["defaults"]["holds"]
    assert any("held out" in m for m in said) and "| held out |" in "\n".join(render_loo(loo))


def test_judged_centroids_weigh_grades_and_skip_what_says_nothing() -> None:
    from xlsearch_es.learn.judged import judged_centroids

    vectors = {"q1": np.array([2.0, 0.0]), "q2": np.array([0.0, 1.0]), "q3": np.array([-1.0, 0.0])}
    grades = {"q1": {"a": 1, "b": 2, "z": 0}, "q2": {"a": 3}, "q3": {"b": 2}, "gone": {"a": 5}}
    out = judged_centroids(vectors, grades)
    assert set(out) == {"a"}  # z: judged not relevant; b: two opposite queries cancel out, no direction left
    assert np.allclose(out["a"], np.array([1.0, 3.0]) / np.sqrt(10.0))  # unit query vectors, weighted 1 and 3
    assert out["a"].dtype == np.float32


def test_eval_refuses_to_report_on_queries_judged_vectors_came_from(tiny_beir) -> None:
    from xlsearch_es.learn.judged import check_judged
    from xlsearch_es.relevance.judgments import beir_hash

    record = {"data_hash": beir_hash(tiny_beir), "split": SplitPolicy().as_dict(), "data": "tiny-shop"}
    assert check_judged({"judged": record}, beir_hash(tiny_beir), "tiny-shop", "test", SplitPolicy())["data"] == "tiny-shop"
    assert check_judged({"judged": record}, beir_hash(tiny_beir), "tiny-shop", "validation", SplitPolicy()) is not None
    assert check_judged({}, beir_hash(tiny_beir), "tiny-shop", "all", SplitPolicy()) is None
    # Learnt from train and validation (holdout 0.5 kept): the default test split is still unseen.
    wide = {**record, "split": SplitPolicy(holdout=0.5, validation=0.01).as_dict()}
    assert check_judged({"judged": wide}, beir_hash(tiny_beir), "tiny-shop", "test", SplitPolicy()) is not None
    for split, policy, rec in (("all", SplitPolicy(), record), ("train", SplitPolicy(), record),
                               ("test", SplitPolicy(holdout=0.7, validation=0.1), record),
                               ("validation", SplitPolicy(), wide),
                               ("test", SplitPolicy(salt="other"), record)):
        with pytest.raises(XLSearchError, match="judged vectors were learnt"):
            check_judged({"judged": rec}, beir_hash(tiny_beir), "tiny-shop", split, policy)
    other = {**record, "data_hash": "another set"}
    assert check_judged({"judged": other}, beir_hash(tiny_beir), "tiny-shop", "all", SplitPolicy()) is not None


@pytest.mark.es
@pytest.mark.model
def test_judged_vectors_are_learnt_searched_relearnt_and_forgotten(es_settings, model_settings, encoder, tiny_beir,
                                                                    index_name, tmp_path) -> None:
    """``learn-vectors``: each judged product gets the centroid of its train queries in a
    field beside its own vector; search fuses one more kNN list on it (left out at weight
    0); a new run replaces what the last one wrote; --forget leaves search as before."""
    from xlsearch_es.cluster.indices import read_meta
    from xlsearch_es.search.client import XLSearchClient

    settings_, es, translator, client = _tiny_shop_index(es_settings, model_settings, encoder, tiny_beir, index_name,
                                                         tmp_path)
    assert client.runtime.knn_fields == ["embedding"]
    runner = CliRunner()
    base = ["--url", es_settings.es_url]
    learnt = runner.invoke(main, base + ["learn-vectors", str(tiny_beir), "--index", index_name, "--holdout", "0.25",
                                         "--validation", "0.2", "--json"])
    assert learnt.exit_code == 0, learnt.output
    report = json.loads(learnt.stdout)
    train = load_beir(tiny_beir).split(POLICY, "train")
    assert report["queries"] == len(train) and report["fields"] == {"embedding_judged": "embedding"}
    judged_products = {d for q in train for d in load_beir(tiny_beir).relevant(q.id)}
    assert report["products"] == len(judged_products) and report["not_in_index"] == 0
    assert report["default_judged_weight"] == 1.0  # the zero-shot encoder never saw these judgments

    def holding() -> set[str]:
        body = {"query": {"exists": {"field": "embedding_judged"}}, "size": 50, "_source": False}
        return {h["_id"] for h in es.search(index=index_name, **body)["hits"]["hits"]}

    assert holding() == judged_products
    mapping = next(iter(es.indices.get_mapping(index=index_name).values()))["mappings"]
    assert mapping["properties"]["embedding_judged"] == mapping["properties"]["embedding"]  # same dims and index
    assert read_meta(es, index_name)["judged"]["split"] == POLICY.as_dict()
    # The product's judged vector is the mean of its train queries' vectors.
    c1 = [q.text for q in train if "c1" in load_beir(tiny_beir).relevant(q.id)]
    expected = encoder.encode(c1, role="query").mean(axis=0)
    stored = np.array(es.get(index=index_name, id="c1", source_includes=["embedding_judged"])["_source"][
        "embedding_judged"])
    assert float(np.dot(stored, expected / np.linalg.norm(expected))) > 0.999

    # A product re-ingested with changes keeps its judged vector (the queries still name it).
    from xlsearch_es.ingest.pipeline import IngestOptions, IngestPipeline

    catalog = tmp_path / "catalog.jsonl"
    rows = [json.loads(line) for line in catalog.read_text().splitlines()]
    changed = [{**r, "title": "garden hose reel, 30 m"} if r["id"] == "c1" else r for r in rows]
    catalog.write_text("".join(json.dumps(r) + "\n" for r in changed))
    summary = IngestPipeline(settings_, es, encoder, translator, IngestOptions(path=str(catalog))).run()
    assert summary.indexed == 1 and summary.unchanged == len(rows) - 1
    doc = es.get(index=index_name, id="c1", source_includes=["title", "embedding_judged"])["_source"]
    assert "30 m" in str(doc["title"]) and np.allclose(doc["embedding_judged"], stored)

    fresh = XLSearchClient(settings_, client=es, encoder=encoder, translator=translator)
    assert fresh.runtime.knn_fields == ["embedding", "embedding_judged"]
    resp = fresh.search(c1[0], k=3, explain=True)
    assert resp.hits[0].id == "c1" and "knn:embedding_judged" in resp.hits[0].components["ranks"]
    off = fresh.search(c1[0], k=3, explain=True, judged_weight=0)
    assert "knn:embedding_judged" not in off.hits[0].components["ranks"]
    with pytest.raises(XLSearchError, match="judged_weight"):
        fresh.search(c1[0], judged_weight=-1)

    # Judgments that no longer name c1..c5 (only c6, and a product the index lacks): the
    # others are cleared, the missing one counted, not failed.
    only = tmp_path / "only-c6"
    (only / "qrels").mkdir(parents=True)
    (only / "corpus.jsonl").write_text(json.dumps({"_id": "c6", "title": "led desk lamp"}) + "\n"
                                       + json.dumps({"_id": "gone", "title": "a product since removed"}) + "\n")
    (only / "queries.jsonl").write_text(json.dumps({"_id": "x1", "text": "lampe", "lang": "de"}) + "\n"
                                        + json.dumps({"_id": "x2", "text": "old thing", "lang": "en"}) + "\n")
    (only / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nx1\tc6\t1\nx2\tgone\t1\n")
    again = runner.invoke(main, base + ["learn-vectors", str(only), "--index", index_name, "--holdout", "0",
                                        "--validation", "0.01", "--json"])
    assert again.exit_code == 0, again.output
    redo = json.loads(again.stdout)
    assert (redo["products"], redo["not_in_index"], redo["cleared"]) == (1, 1, len(judged_products - {"c6"}))
    assert holding() == {"c6"}

    es.indices.create(index=f"{index_name}-theirs")  # an index somebody else made is never written to
    theirs = runner.invoke(main, base + ["learn-vectors", "--forget", "--index", f"{index_name}-theirs"])
    assert theirs.exit_code != 0 and "not an index xlsearch manages" in theirs.output
    assert "_meta" not in next(iter(es.indices.get_mapping(index=f"{index_name}-theirs").values()))["mappings"]
    forgot = runner.invoke(main, base + ["learn-vectors", "--forget", "--index", index_name, "--json"])
    assert forgot.exit_code == 0, forgot.output
    assert holding() == set() and "judged" not in read_meta(es, index_name)
    assert XLSearchClient(settings_, client=es, encoder=encoder, translator=translator).runtime.knn_fields == [
        "embedding"]


class _JudgedTuner:
    """Scores that depend only on the judged fields' weight; each query prefers its own."""

    fields, parts = ["vector"], ["vector", "vector_judged"]

    def __init__(self, preferred: dict[str, float]):
        self.preferred = preferred
        self.items = _items("de", 60) + _items("fr", 60)

    def score(self, p, items):
        import math

        w = 1.0 if p.judged_weight is None else p.judged_weight
        return float(np.mean([1 - abs(math.log2(w + 1e-3) - math.log2(self.preferred[i.query.id])) / 10
                              for i in items]))

    def best_of(self, candidates, items):
        return max(((p, self.score(p, items)) for p in candidates), key=lambda ps: ps[1])


def test_a_new_models_judged_weight_is_tuned_alone_when_the_whole_search_does_not_carry() -> None:
    """Fewer free parameters: the judged weight alone, out of fold, is kept where it wins
    beyond its noise, and left at the default where the default is already what queries want."""
    from xlsearch_es.learn.tune import _fit_judged, carries, out_of_fold
    from xlsearch_es.search.tuning import SearchParams

    rng = np.random.default_rng(3)
    ids = [i.query.id for i in _JudgedTuner({}).items]
    wants_half = _JudgedTuner({q: float(rng.choice([0.25, 0.5, 0.5, 1.0])) for q in ids})
    defaults = SearchParams(fusion="zscore", knn_weight=4.0)
    check = out_of_fold(wants_half, defaults, lambda _m: None, fit=_fit_judged)
    assert check["gain"] > 0 and carries(check)
    assert _fit_judged(wants_half, defaults, wants_half.items, lambda _m: None)[0].judged_weight == 0.5
    content = _JudgedTuner(dict.fromkeys(ids, 1.0))
    assert not carries(out_of_fold(content, defaults, lambda _m: None, fit=_fit_judged))


class _HashEmbedder:
    """A fixed unit vector per text (what an encoder is to the cross-fit: a function of the text)."""

    def encode(self, texts, role="query"):
        seeds = [int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) for t in texts]
        rows = [np.random.default_rng(seed).normal(size=8) for seed in seeds]
        return np.array([r / np.linalg.norm(r) for r in rows], dtype=np.float32)


def test_cross_fit_learns_each_folds_centroids_without_its_queries_and_ranks_by_cosine() -> None:
    """Tuning's judged lists: a query's own judgments never shape the centroids it is ranked
    against, products the index lacks are left out, and the list is Elasticsearch's cosine."""
    from types import SimpleNamespace

    from xlsearch_es.learn.crossfit import build_cross_fit, text_fold
    from xlsearch_es.relevance.judgments import Judgments, Query

    assert text_fold(Query("a", "Rote  Schuhe", "de")) == text_fold(Query("b", "rote schuhe", "de"))
    queries = [Query(f"q{i}", f"query number {i}", "en") for i in range(40)]
    by_fold: dict[int, list[Query]] = {}
    for q in queries:
        by_fold.setdefault(text_fold(q), []).append(q)
    mine, other = (by_fold[k][0] for k in sorted(by_fold)[:2])
    qrels = {q.id: {"common": 1} for q in queries}
    qrels[mine.id].update({"own": 2, "gone": 1})  # "own": judged by this query alone
    qrels[other.id]["shared"] = 1
    qrels[mine.id]["shared"] = 1
    judgments = Judgments("t", {q.id: q for q in queries}, dict.fromkeys(["common", "own", "gone", "shared"], ""),
                          qrels, "h")
    runtime = SimpleNamespace(meta=SimpleNamespace(judged={"v_judged": "v"}), embedders={"v": _HashEmbedder()},
                              knn_fields=["v", "v_judged"])
    fit = build_cross_fit(runtime, judgments, queries, held={"common", "own", "shared"})
    assert fit.list_names == {"v_judged": "knn:v_judged"} and fit.learnt_from == 40
    own_fold = fit.by_fold[text_fold(mine)]["v_judged"]
    assert "own" not in own_fold.ids and "gone" not in own_fold.ids
    assert all("own" in fit.by_fold[k]["v_judged"].ids for k in fit.by_fold if k != text_fold(mine))
    # "shared" in mine's fold is the other query's vector alone: mine ranks it by their cosine.
    vec = {"v": _HashEmbedder().encode([mine.text])[0]}
    ranked = dict(fit.lists(mine, vec, depth=10)["knn:v_judged"])
    cosine = float(np.dot(vec["v"], _HashEmbedder().encode([other.text])[0]))
    assert ranked["shared"] == pytest.approx((1 + cosine) / 2, abs=1e-5)
    assert fit.lists(mine, vec, depth=1)["knn:v_judged"] == [max(ranked.items(), key=lambda kv: kv[1])]


@pytest.mark.es
@pytest.mark.model
def test_tuning_cross_fits_judged_lists_the_way_elasticsearch_ranks_them(es_settings, model_settings, encoder,
                                                                          tiny_beir, index_name, tmp_path) -> None:
    """The cross-fit's simulation, given every learning query, is the index's own judged list
    (same products, same cosine scores); tuning's lists for a learning query come from it."""
    from xlsearch_es.learn.crossfit import CrossFit, _Centroids, for_tuning
    from xlsearch_es.learn.judged import embed_queries, judged_centroids
    from xlsearch_es.learn.tune import DEPTH, Tuner, tune
    from xlsearch_es.search.client import XLSearchClient

    settings_, es, translator, _ = _tiny_shop_index(es_settings, model_settings, encoder, tiny_beir, index_name,
                                                    tmp_path)
    learnt = CliRunner().invoke(main, ["--url", es_settings.es_url, "learn-vectors", str(tiny_beir), "--index",
                                       index_name, "--holdout", "0.25", "--validation", "0.2"])
    assert learnt.exit_code == 0, learnt.output
    client = XLSearchClient(settings_, client=es, encoder=encoder, translator=translator)
    judgments = load_beir(tiny_beir)
    fit, pool = for_tuning(client, judgments, POLICY)
    train, validation = judgments.split(POLICY, "train"), judgments.split(POLICY, "validation")
    assert fit is not None and fit.learnt_from == len(train)
    assert sorted(q.id for q in pool) == sorted(q.id for q in train + validation)

    vectors = embed_queries(client.runtime, train, ["embedding"])["embedding"]
    full = judged_centroids(vectors, {q.id: judgments.relevant(q.id) for q in train})
    ids = sorted(full)
    every_fold = {k: {"embedding_judged": _Centroids(ids, np.stack([full[d] for d in ids]))} for k in range(5)}
    whole = CrossFit(fit.fields, fit.list_names, every_fold, len(train))
    for query in judgments.split(POLICY, "test")[:4]:
        analysis = client.understand(query.text, query.lang)
        query_vectors = client.query_vectors(analysis)
        served = client.knn_lists(analysis, 6, vectors=query_vectors)["knn:embedding_judged"]
        simulated = whole.lists(query, query_vectors, 6)["knn:embedding_judged"]
        assert {d for d, _ in served} == {d for d, _ in simulated}
        assert dict(served) == pytest.approx(dict(simulated), abs=0.01)

    tuner = Tuner(client, judgments, train[:2], lambda _m: None, fit)
    item = tuner.items[0]
    own = fit.lists(item.query, client.query_vectors(item.analysis), DEPTH)
    assert tuner._knn(item, None)["knn:embedding_judged"] == own["knn:embedding_judged"]
    assert "knn" in tuner._knn(item, None)  # the encoder's own list still comes from the index
    # A validation split that overlaps the learning band: its judged lists are cross-fitted too.
    wider = SplitPolicy(holdout=0.25, validation=0.4)
    report = tune(client, judgments, wider, say=lambda _m: None)
    assert report["queries"] == len(judgments.split(wider, "validation")) >= 10


def test_queries_the_served_encoders_trained_on_cannot_measure_the_judged_weight(tmp_path: Path) -> None:
    """The model's and the query adapter's manifests say which split of which judgments they
    learnt from; those train queries are left out of the judged weight's measurement."""
    from xlsearch_es.config import Settings
    from xlsearch_es.learn.crossfit import encoders_trained_on
    from xlsearch_es.relevance.judgments import Judgments

    judgments = Judgments("t", {}, {}, {}, "hash-a")
    model, adapter = tmp_path / "model", tmp_path / "adapter"
    model.mkdir()
    adapter.mkdir()
    split = {"holdout": 0.5, "validation": 0.1, "salt": "s"}
    (model / "xlsearch_manifest.json").write_text(json.dumps({"training": {"data_hash": "hash-a", "split": split}}))
    (adapter / "adapter.json").write_text(json.dumps({"adapters": {}, "training": {"data_hash": "hash-b"}}))
    settings_ = Settings(model=str(model), query_adapter=str(adapter))
    assert encoders_trained_on(settings_, judgments) == [SplitPolicy(**split)]  # the adapter learnt other data
    (adapter / "adapter.json").write_text(json.dumps({"adapters": {}, "training": {"data_hash": "hash-a"}}))
    unknown = encoders_trained_on(settings_, judgments)[1]  # its split unrecorded: every query counts as seen
    assert sum(unknown.split_of("en", f"q{i}") == "train" for i in range(200)) == 200
    assert encoders_trained_on(Settings(model=str(tmp_path / "none")), judgments) == []


def test_judged_lists_weigh_half_by_default_where_the_encoder_learnt_the_same_judgments(tmp_path: Path) -> None:
    """A model fine-tuned on the judgments the judged vectors came from already carries their
    evidence: the default judged weight halves; other judgments (or a zero-shot model) keep 1."""
    from types import SimpleNamespace

    from xlsearch_es.config import Settings
    from xlsearch_es.runtime import IndexMeta, IndexRuntime
    from xlsearch_es.search.plan import Planner
    from xlsearch_es.search.understand import QueryAnalysis

    model = tmp_path / "model"
    model.mkdir()
    (model / "xlsearch_manifest.json").write_text(json.dumps({"training": {"data_hash": "clicks-1"}}))

    def runtime(settings_: Settings, learnt_from: str) -> IndexRuntime:
        meta = {"models": {"embedding": {"fingerprint": "f1", "encoder": "transformers", "languages": ["de"]}},
                "vector_fields": ["embedding"],
                "judged": {"fields": {"embedding_judged": "embedding"}, "model_fingerprints": {"embedding": "f1"},
                           "data_hash": learnt_from}}
        return IndexRuntime("shop", settings_, IndexMeta.parse(meta), {"embedding": object()}, None)

    analysis = QueryAnalysis("rote schuhe", "rote schuhe", "de", False, [], {})
    planner = lambda rt: SimpleNamespace(runtime=rt, keyword_widest_odds=2 / 3)  # noqa: E731 - one field: no split
    shares = lambda rt, w=None: Planner.field_shares(planner(rt), analysis, None, w)  # noqa: E731
    tuned = runtime(Settings(model=str(model)), "clicks-1")
    assert tuned.judged_redundant and shares(tuned) == {"embedding": 1.0, "embedding_judged": 0.5}
    assert shares(tuned, 2.0) == {"embedding": 1.0, "embedding_judged": 2.0}  # an explicit weight wins
    assert shares(runtime(Settings(model=str(model)), "clicks-2"))["embedding_judged"] == 1.0
    assert shares(runtime(Settings(model=str(tmp_path / "zero-shot")), "clicks-1"))["embedding_judged"] == 1.0


def test_cross_fit_learns_only_from_the_judgments_the_vectors_came_from(tiny_beir) -> None:
    """Vectors learnt from other judgments (another log, an edited set) leave nothing to
    cross-fit; a record without a readable split neither; a match gives its train split."""
    from xlsearch_es.learn.crossfit import learning_queries

    judgments = load_beir(tiny_beir)
    record = {"data_hash": judgments.data_hash, "split": POLICY.as_dict()}
    assert [q.id for q in learning_queries(judgments, record)] == [q.id for q in judgments.split(POLICY, "train")]
    assert learning_queries(judgments, {**record, "data_hash": "another-log"}) == []
    assert learning_queries(judgments, {"data_hash": judgments.data_hash, "split": {"holdout": "x"}}) == []
    assert learning_queries(judgments, {"data_hash": judgments.data_hash}) == []
    assert learning_queries(judgments, {"data_hash": judgments.data_hash, "split": {"holdout": 2.0}}) == []

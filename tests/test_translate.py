"""Translation: the lexicon on real dictionaries, neural paths on tiny models."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.tiny_models import build_tiny_causal_lm, build_tiny_marian
from xlsearch_es.cli import main
from xlsearch_es.errors import XLSearchError
from xlsearch_es.translate.base import NoneBackend, Translator, mask, unmask
from xlsearch_es.translate.memory import TranslationMemory

# One phrase per covered pair, with words the translation must contain.
PAIRS = [
    ("zh", "en", "红色 连衣裙", ["red", "dress"]),
    ("ja", "en", "赤いドレス", ["red", "dress"]),
    ("de", "en", "Waschmaschine", ["washing machine"]),
    ("es", "en", "vestido rojo", ["dress", "red"]),
    ("fr", "en", "robe rouge", ["dress", "red"]),
    ("it", "en", "vestito rosso", ["red"]),
    ("pt", "en", "vestido vermelho", ["dress", "red"]),
    ("pl", "en", "sukienka", ["dress"]),
    ("ar", "en", "أحمر", ["red"]),
    ("en", "de", "summer dress", ["sommer", "kleid"]),
    ("en", "es", "blue dress", ["azul", "vestido"]),
    ("en", "fr", "red dress", ["robe"]),
    ("en", "it", "red", ["rosso"]),
    ("en", "pt", "blue shoe", ["azul", "sapato"]),
    ("en", "pl", "summer", ["lato"]),
    ("en", "ja", "red dress", ["ドレス"]),
    ("en", "zh", "red", ["红"]),
    ("en", "ar", "red", ["أحمر"]),
    ("en", "ru", "red", ["красн"]),
]


@pytest.fixture(scope="module")
def lexicon(tmp_path_factory, base_settings):
    from xlsearch_es.translate.factory import make_translator

    settings = base_settings.replace(home=tmp_path_factory.mktemp("tmhome"))
    # Dictionaries come from the shared home (compiled once per machine); the
    # translation memory is private to this module so hits are counted from zero.
    from xlsearch_es.translate.dictionaries import COMMON_LANGUAGES, build_lexicon
    from xlsearch_es.translate.lexicon import LexiconBackend

    build_lexicon(base_settings.home_dir, COMMON_LANGUAGES)
    memory = TranslationMemory(settings.home_dir / "tm.sqlite")
    assert make_translator(base_settings).name == "lexicon"
    return Translator(LexiconBackend(base_settings.home_dir), memory)


@pytest.mark.parametrize("src,tgt,text,expected", PAIRS)
def test_lexicon_pairs(lexicon, src, tgt, text, expected):
    assert lexicon.backend.supports(src, tgt)
    out = lexicon.translate([text], src, tgt)[0]
    for word in expected:
        assert word.lower() in out.lower(), (text, out)


def test_lexicon_pivots_through_english(lexicon):
    assert lexicon.backend.supports("de", "zh")
    out = lexicon.translate(["rotes Kleid"], "de", "zh")[0]
    assert any("\u4e00" <= c <= "\u9fff" for c in out), out


def test_protected_tokens_survive_lexicon(lexicon):
    out = lexicon.translate(["iPhone 12 手机壳 透明 A2172 256GB"], "zh", "en")[0]
    for token in ("iPhone 12", "A2172", "256GB"):
        assert token in out
    assert "Nike" in lexicon.translate(["zapatillas Nike rojas"], "es", "en", brands=["Nike"])[0]


def test_chinese_keeps_numbers_drops_particles_and_reads_variant_entries(lexicon):
    # lindera gives digits and Latin letters a "*" gloss, keeps one homograph's entry for
    # particles (的 "aim") and gives 年 the entry of its variant 秊 ("grain")
    sizes, model, year = lexicon.translate(["18寸行李箱", "小米10的充电器", "2000年"], "zh", "en")
    assert "18" in sizes and "suitcase" in sizes and "*" not in sizes, sizes
    assert "10" in model and "charger" in model and "aim" not in model.split(), model
    assert year.split() == ["2000", "year"], year


def test_inflected_forms_reach_their_lemmas_entry(lexicon):
    # forms no dictionary lists and no ending rule reaches ("было" is быть's past)
    assert lexicon.translate(["было утрачено"], "ru", "en")[0].split()[0] == "be"
    assert "complete" in lexicon.translate(["vervollständigte"], "de", "en")[0]
    assert lexicon.translate(["construidas"], "es", "en")[0] == "build"


def test_lemma_table_keeps_only_forms_that_lead_to_an_entry():
    import sqlite3

    from xlsearch_es.translate.dictionaries import _compile_lemmas

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE entries (src TEXT, tgt TEXT, head TEXT, best TEXT, alts TEXT)")
    db.execute("CREATE TABLE lemmas (src TEXT, form TEXT, lemma TEXT, PRIMARY KEY (src, form))")
    db.execute("INSERT INTO entries VALUES ('ru', 'en', 'быть', 'be', '[]')")
    assert _compile_lemmas(db, "ru") > 0
    lemmas = dict(db.execute("SELECT form, lemma FROM lemmas WHERE src='ru'").fetchall())
    assert lemmas["было"] == "быть" and set(lemmas.values()) == {"быть"}
    assert _compile_lemmas(db, "ko") == 0  # no lemma list for Korean: nothing, no error


def test_translation_memory_hits_on_second_call(lexicon):
    text = "vestido azul de verano largo"
    first = lexicon.translate([text, text], "es", "en")
    hits = lexicon.memory.hits
    second = lexicon.translate([text], "es", "en")
    assert first[0] == first[1] == second[0]
    assert lexicon.memory.hits == hits + 1


def test_memory_persists_across_instances(tmp_path):
    mem = TranslationMemory(tmp_path / "tm.sqlite")
    mem.put_many("fp", "de", "en", {"Kleid": "dress"})
    mem.close()
    again = TranslationMemory(tmp_path / "tm.sqlite")
    assert again.get_many("fp", "de", "en", ["Kleid", "Hose"]) == {"Kleid": "dress"}


def test_bad_inputs(lexicon):
    assert lexicon.translate(["", "   "], "zh", "en") == ["", ""]
    huge = "红色连衣裙 " * 20_000
    assert len(lexicon.translate([huge], "zh", "en")[0]) > 0
    assert lexicon.translate(["😀👍 \x00"], "zh", "en") == ["😀 👍"]
    with pytest.raises(XLSearchError, match="unknown language code"):
        lexicon.translate(["x"], "klingon", "en")
    assert lexicon.translate(["무선 이어폰"], "ko", "en") == ["무선 이어폰"]  # no ko dictionary: kept


def test_mask_unmask_restores_lost_placeholders():
    masked, kept = mask("iPhone 12 ケース 256GB")
    assert kept == ["iPhone 12", "256GB"] and "⟦0⟧" in masked
    assert unmask("case ⟦0⟧", kept) == "case iPhone 12 256GB"
    assert unmask("⟦7⟧ case ⟦0⟧ ⟦0⟧", kept) == "case iPhone 12 256GB"


def test_none_backend_passes_through():
    tr = Translator(NoneBackend())
    assert tr.translate(["ＲＥＤ　dress"], "en", "de") == ["RED dress"]


@pytest.fixture(scope="module")
def tiny_marian(tmp_path_factory):
    return build_tiny_marian(tmp_path_factory.mktemp("marian"))


def test_seq2seq_on_a_tiny_marian(tiny_marian, tmp_path):
    from xlsearch_es.translate.seq2seq import Seq2SeqBackend

    backend = Seq2SeqBackend(str(tiny_marian), max_new_tokens=8, batch_size=2)
    tr = Translator(backend, TranslationMemory(tmp_path / "tm.sqlite"))
    texts = ["red summer dress", "iPhone 12 phone case A2172", "blue denim jeans"]
    out = tr.translate(texts, "en", "de")
    assert len(out) == 3 and all(isinstance(o, str) for o in out)
    assert "iPhone 12" in out[1] and "A2172" in out[1]  # protected, whatever the model writes
    assert tr.translate(texts, "en", "de") == out and tr.stats["memory_hits"] == 3


def test_causal_lm_on_a_tiny_model(tmp_path):
    from xlsearch_es.translate.causal_lm import CausalLMBackend, build_prompt

    folder = build_tiny_causal_lm(tmp_path / "lm")
    tr = Translator(CausalLMBackend(str(folder), max_new_tokens=6))
    out = tr.translate(["rotes Kleid 256GB"], "de", "en")[0]
    assert "256GB" in out and "\n" not in out
    prompt = build_prompt("x", "de", "en")
    assert prompt.endswith("German: x\nEnglish:")


def test_missing_translation_model_is_clear(tmp_path):
    from xlsearch_es.errors import ModelError
    from xlsearch_es.translate.seq2seq import Seq2SeqBackend

    with pytest.raises(ModelError, match="cannot load translation model"):
        Seq2SeqBackend(str(tmp_path))


def test_cli_translate_and_detect(lexicon):
    runner = CliRunner()
    out = runner.invoke(main, ["translate", "iPhone 12 ケース", "红色 连衣裙", "--to", "en", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["translations"][0]["text"].startswith("iPhone 12") and data["translations"][0]["src_lang"] == "ja"
    assert data["translations"][1]["src_lang"] == "zh" and "dress" in data["translations"][1]["text"]
    bad = runner.invoke(main, ["translate", "x", "--to", "xx-long"])
    assert bad.exit_code == 1 and "unknown language code" in bad.output
    det = runner.invoke(main, ["detect", "红色 连衣裙", "무선 이어폰", "--json"])
    assert [r["lang"] for r in json.loads(det.output)["results"]] == ["zh", "ko"]
    none = runner.invoke(main, ["translate", "x", "--to", "de", "--backend", "seq2seq"])
    assert none.exit_code == 1 and "needs a model" in none.output

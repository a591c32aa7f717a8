"""Solr-format synonyms: parsing, bad files, and query expansion (pure logic)."""

from __future__ import annotations

import pytest

from xlsearch_es.errors import ConfigError
from xlsearch_es.search.synonyms import MAX_EXPANSIONS, Synonyms

RULES = """
# equivalent terms
sneakers, trainers, running shoes
tee => t-shirt, tshirt
1\\,5 l, 1.5 litre
"""


def test_equivalent_and_explicit_rules():
    syn = Synonyms.parse(RULES)
    assert syn.expand("black Sneakers") == ["trainers", "running shoes"]
    assert syn.expand("RUNNING shoes for kids") == ["sneakers", "trainers"]  # longest phrase first
    assert syn.expand("white tee") == ["t-shirt", "tshirt"]
    assert syn.expand("t-shirt") == []  # explicit rules run one way
    assert syn.expand("bottle 1,5 l") == ["1.5 litre"]  # escaped comma
    assert syn.expand("") == [] and Synonyms().expand("sneakers") == []


def test_bad_files_say_where(tmp_path):
    with pytest.raises(ConfigError, match=r"synonyms:2: more than one"):
        Synonyms.parse("a, b\na => b => c")
    with pytest.raises(ConfigError, match="both sides"):
        Synonyms.parse(" => b")
    with pytest.raises(ConfigError, match="cannot read"):
        Synonyms.from_file(tmp_path / "missing.txt")
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9, coffee".encode("latin-1"))
    with pytest.raises(ConfigError, match="cannot read"):
        Synonyms.from_file(bad)


def test_expansions_are_bounded():
    syn = Synonyms.parse("\n".join(f"w{i}, x{i}, y{i}" for i in range(20)))
    assert len(syn.expand(" ".join(f"w{i}" for i in range(20)))) == MAX_EXPANSIONS

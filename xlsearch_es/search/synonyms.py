"""A shop's synonyms (Solr format), applied to the query on the client.

Index-time synonym filters need analysis settings that hosted and plugin-less
clusters may lack, and a change would need a reindex; expanding the query here
works on every cluster and takes effect at once. Solr's two rule forms:

    sneakers, trainers, running shoes      # equivalent: any one brings the others
    tee => t-shirt, tshirt                 # explicit: the left side brings the right

Lines starting with ``#`` are comments; ``\\,`` is a literal comma. Matching is
on whole words, case- and accent-insensitive, longest phrase first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..text.fold import WORD, fold

MAX_EXPANSIONS = 8  # a query with many synonym hits stays a small request


def _words(text: str) -> tuple[str, ...]:
    return tuple(fold(w) for w in WORD.findall(text))


def _split(side: str) -> list[str]:
    parts = re.split(r"(?<!\\),", side)
    return [p.replace("\\,", ",").strip() for p in parts if p.strip()]


@dataclass
class Synonyms:
    """Phrase (as folded words) -> the phrases it brings into the query."""

    rules: dict[tuple[str, ...], list[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, source: str = "synonyms") -> Synonyms:
        rules: dict[tuple[str, ...], list[str]] = {}

        def add(left: str, rights: list[str]) -> None:
            key = _words(left)
            if key:
                bucket = rules.setdefault(key, [])
                bucket += [r for r in rights if _words(r) != key and r not in bucket]

        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.count("=>") > 1:
                raise ConfigError(f"{source}:{number}: more than one '=>' in {raw.strip()!r}")
            if "=>" in line:
                left, right = line.split("=>")
                lefts, rights = _split(left), _split(right)
                if not lefts or not rights:
                    raise ConfigError(f"{source}:{number}: a rule needs words on both sides of '=>'")
                for term in lefts:
                    add(term, rights)
            else:
                terms = _split(line)
                for term in terms:
                    add(term, [t for t in terms if t != term])
        return cls({k: v for k, v in rules.items() if v})

    @classmethod
    def from_file(cls, path: str | Path) -> Synonyms:
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the synonyms file {file}: {exc}") from None
        return cls.parse(text, source=str(file))

    def expand(self, query: str) -> list[str]:
        """The phrases the query's words bring in, longest match first, without repeats."""
        words = _words(query)
        longest = max((len(k) for k in self.rules), default=0)
        out: list[str] = []
        i = 0
        while i < len(words) and len(out) < MAX_EXPANSIONS:
            for size in range(min(longest, len(words) - i), 0, -1):
                found = self.rules.get(words[i : i + size])
                if found:
                    out += [p for p in found if p not in out]
                    i += size
                    break
            else:
                i += 1
        return out[:MAX_EXPANSIONS]

    def __len__(self) -> int:
        return len(self.rules)

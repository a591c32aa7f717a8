"""ISO 639-1 language codes: the only language codes xlsearch accepts.

Catalog records, ``--languages``, ``--lang`` and translator targets all pass
through ``iso639_1``, so a typo such as ``"eng"`` or ``"zz"`` is refused at the
edge instead of creating a field or a translation direction nobody can match.
"""

from __future__ import annotations

import re

# The 183 two-letter codes of ISO 639-1 (plus "bh", withdrawn in 2021 but still
# found in catalogs).
ISO_639_1 = frozenset(
    """
aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz
ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik
io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml
mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd
se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi
vo wa wo xh yi yo za zh zu
""".split()
)

# "pt", "PT", "pt-BR", "pt_br": a locale's primary subtag is its language.
_LOCALE = re.compile(r"^([A-Za-z]{2})(?:[-_][A-Za-z0-9]{1,8})*$")


def iso639_1(code: object) -> str | None:
    """The lower-case ISO 639-1 code for ``code`` (a code or a locale), or None."""
    if not isinstance(code, str):
        return None
    match = _LOCALE.match(code.strip())
    if not match:
        return None
    lang = match.group(1).lower()
    return lang if lang in ISO_639_1 else None

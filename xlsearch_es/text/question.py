"""Whether a query is asked as a question, in any script.

A question ("how many points did the Panthers give up?") and a shop query
("red running shoes") want different things from the encoders: on the shared
sets' questions e5 ranks answers better than USE and BM25 over a word-by-word
translation adds little, while on keyword queries USE is the stronger encoder.
The question mark separates the two in every language of both sets (5,869 of
5,950 questions, none of 6,841 shop queries), so that is what is read here.
"""

from __future__ import annotations

# Latin/Cyrillic "?", full-width (Chinese, Japanese), Arabic, Greek (";" and its own
# code point), Armenian, Ethiopic, the reversed mark; "¿" opens a Spanish question.
QUESTION_MARKS = ("?", "\uff1f", "\u061f", ";", "\u037e", "\u055e", "\u1367", "\u2e2e")
OPENING_MARKS = ("\u00bf",)
_TRAILING = " \t\n\"'\u201d\u2019\u00bb)]\u300d\u300f"  # closing quotes and brackets after the mark


def is_question(text: str) -> bool:
    """A query that ends with a question mark (any script) or opens with "¿"."""
    stripped = text.strip()
    return stripped.startswith(OPENING_MARKS) or stripped.rstrip(_TRAILING).endswith(QUESTION_MARKS)

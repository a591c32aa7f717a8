"""Fingerprints: short hashes that name model weights and the files beside them.

Kept apart from the encoders so that anything that only compares or computes a
fingerprint (query adapters, judgments' data hashes) need not import one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

INT8_SUFFIX = "-int8"
ONNX_INT8_SUFFIX = "-onnx-int8"


def base_fingerprint(fingerprint: str) -> str:
    """The weights' fingerprint without a precision suffix."""
    return fingerprint.removesuffix(ONNX_INT8_SUFFIX).removesuffix(INT8_SUFFIX)


def file_hash(paths: list[Path]) -> str:
    """Short SHA-256 over files' names and contents, read in chunks."""
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode())
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]

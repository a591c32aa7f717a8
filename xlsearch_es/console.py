"""What the command line prints on stderr: our own progress, not the libraries' chatter.

transformers, torch, ONNX Runtime and friends print progress bars and advice
on stderr when a model loads; a search that prints a "Loading weights" bar is
noise to a person and garbage to a script reading stderr. ``configure_console``
(called once by the CLI, never by the library) routes the ``xlsearch_es``
loggers to stderr as plain lines (INFO: the steps that take more than a few
seconds, such as a dictionary build or an ONNX export) and silences the rest
unless ``-v`` asks for it. The environment variables are only defaults: a
user's own ``TRANSFORMERS_VERBOSITY`` and the like win.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

# Libraries whose loggers speak up while models load or requests run.
THIRD_PARTY_LOGGERS = (
    "transformers",
    "huggingface_hub",
    "torch",
    "onnxruntime",
    "onnxscript",
    "onnx_ir",
    "elasticsearch",
    "elastic_transport",
    "urllib3",
    "httpx",
    "matplotlib",
    "ray",
    "filelock",
)
# Read by those libraries when they are first imported.
QUIET_ENVIRONMENT = {
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "ORT_LOGGING_LEVEL": "3",
}
_HANDLER_NAME = "xlsearch-console"


def configure_console(verbose: int = 0) -> None:
    """Quiet by default; ``verbose`` 1 brings third-party warnings and progress bars
    back, 2 adds our DEBUG lines. Safe to call more than once."""
    ours = logging.getLogger("xlsearch_es")
    for handler in [h for h in ours.handlers if h.get_name() == _HANDLER_NAME]:
        ours.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s" if verbose else "%(message)s"))
    ours.addHandler(handler)
    ours.setLevel(logging.DEBUG if verbose >= 2 else logging.INFO)
    ours.propagate = False
    third_party = logging.WARNING if verbose else logging.ERROR
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(third_party)
    if verbose:
        return
    for key, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    warnings.filterwarnings("ignore")
    warnings.filterwarnings("default", module=r"xlsearch_es(\.|$)")
    if "transformers" in sys.modules:  # imported before us: its bars read the env only once
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()

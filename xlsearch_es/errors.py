"""User-facing errors.

Every failure a user can cause or fix (bad input, missing Java, a cluster that is
down) is raised as an ``XLSearchError`` with a one-line message; the CLI prints
it without a traceback and exits non-zero.
"""


class XLSearchError(Exception):
    """An error whose message is meant for the user, already actionable."""


class ConfigError(XLSearchError):
    """Settings that cannot be used (bad value, unreadable config file)."""


class ClusterError(XLSearchError):
    """The cluster is unreachable, refuses us, or answered with an error. ``status`` is
    the cluster's HTTP status when it answered (400 for a request it could not run,
    429 for back-pressure), None when it could not be reached."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class NodeError(XLSearchError):
    """The local Elasticsearch node could not be installed, started or stopped."""


class ModelError(XLSearchError):
    """A model folder is missing, corrupt or incompatible."""


class IndexMismatchError(XLSearchError):
    """An index was built with another embedding model than the one configured."""


class DeadlineExceeded(XLSearchError):
    """A request's time budget ran out; the work stopped at its next stage."""

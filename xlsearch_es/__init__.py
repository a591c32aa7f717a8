"""xlsearch-es: cross-lingual product search on Elasticsearch."""

__version__ = "0.1.0"

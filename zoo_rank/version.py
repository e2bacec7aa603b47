"""zoo-rank's version, in a module of its own: what reports and the hub client's User-Agent name,
readable without importing the package's API."""

__version__ = "0.1.0"

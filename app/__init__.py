"""The MiKO platform service: the single-page app's files and the operational endpoints."""

__version__ = "2.0.0"

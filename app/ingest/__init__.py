"""Ingestion of the browser's logs (POST /api/logs) and metrics (POST /api/metrics)."""

"""Hyperfactory edge collector and cloud ingest."""

"""Hyperfactory cloud provisioner."""

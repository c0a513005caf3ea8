"""Latency benchmark for Placement implementations, driven over HTTP.

Builds clouds through the public API, then times query shapes (see
``shapes.py``) against one implementation and, optionally, a baseline
implementation in the same run. Run ``python -m tools.bench --help``.
"""

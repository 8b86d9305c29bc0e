"""Tracking-platform simulator: a test and demo double, not shipped in the addon's
runtime. Runs standalone too (see server.py)."""

from .server import TrackingSimulator

"""Tracking-platform simulator (no Odoo import: runnable standalone, importable by tests)."""

from .server import TrackingSimulator

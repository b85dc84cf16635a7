"""Alertmanager API v2 served by Flask."""

"""Inhibition: a firing source alert mutes target alerts that agree on the `equal` labels.

Source alerts are read from the shared alert store, so an alert ingested through any instance
inhibits on every worker. The scan is cached for `refresh` seconds per process (the cost of
reading every alert is paid at most that often, and only when inhibit rules exist).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from app import metrics
from app.alerts import Alert
from app.config import InhibitRule
from app.matchers import matches_all


class Inhibitor:
    def __init__(
        self, rules: Callable[[], list[InhibitRule]], alerts: Callable[[], list[Alert]], refresh: float = 1.0
    ) -> None:
        self._rules = rules
        self._alerts = alerts
        self.refresh = refresh
        self._lock = threading.Lock()
        self._sources: list[list[Alert]] = []
        self._loaded_at = float("-inf")
        self._loaded_rules: list[InhibitRule] | None = None

    def _source_alerts(self, rules: list[InhibitRule], now: float) -> list[list[Alert]]:
        with self._lock:
            if rules is self._loaded_rules and time.monotonic() - self._loaded_at < self.refresh:
                return self._sources
        firing = [a for a in self._alerts() if not a.resolved(now)]
        sources = [[a for a in firing if matches_all(r.source_matchers, a.labels)] for r in rules]
        with self._lock:
            self._sources, self._loaded_rules, self._loaded_at = sources, rules, time.monotonic()
        return sources

    def inhibited_by(self, labels: Mapping[str, str], now: float) -> list[str]:
        """Fingerprints of the source alerts that inhibit an alert with these labels."""
        rules = self._rules()
        if not rules:
            return []
        sources = None
        for i, rule in enumerate(rules):
            if not matches_all(rule.target_matchers, labels):
                continue
            if sources is None:
                sources = self._source_alerts(rules, now)
            # An alert on both sides of a rule must not be inhibited by others that are too,
            # or two such alerts would mute each other.
            two_sided = matches_all(rule.source_matchers, labels)
            for src in sources[i]:
                if src.resolved(now):
                    continue
                if any(src.labels.get(n, "") != labels.get(n, "") for n in rule.equal):
                    continue
                if two_sided and matches_all(rule.target_matchers, src.labels):
                    continue
                return [src.fingerprint]
        return []

    def mute_stage(self, alerts: list[Alert], group: object, route: object, now: float) -> list[Alert]:
        """The inhibition stage of a flush: alerts muted by a firing source alert are neither
        sent nor logged."""
        if not self._rules():
            return alerts  # nothing inhibits: no scan, and the counter would only add 0
        kept = [a for a in alerts if not self.inhibited_by(a.labels, now)]
        metrics.notifications_suppressed.labels(metrics.SUPPRESSED_BY_INHIBITION).inc(len(alerts) - len(kept))
        return kept

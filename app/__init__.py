"""alerter: an Alertmanager-compatible alert router whose cluster state lives in Redis."""

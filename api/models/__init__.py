"""Model versions over HTTP: the registry's versions and metrics, promote, rollback, retrain."""

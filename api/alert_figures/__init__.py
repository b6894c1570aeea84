"""Alert-quality figures over HTTP (services.alert_figures), for every role."""

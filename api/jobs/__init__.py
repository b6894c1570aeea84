"""Jobs over HTTP: their runs, and requests that the scheduler run one now."""

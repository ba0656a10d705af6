"""Settings, errors, limits and the run store: what the routes lean on."""

"""The HTTP layer: request / response schemas, dependencies and thin routes."""

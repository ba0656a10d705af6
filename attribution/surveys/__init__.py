"""Self-reported surveys: coding free text into channels, benchmarking models against them."""

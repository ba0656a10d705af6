"""Inputs: sources, schema checks, run config files, channel taxonomy."""

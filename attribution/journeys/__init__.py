"""Journeys: contact and account journeys, lookback windows, milestones."""

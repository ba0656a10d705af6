"""Journeys: contact and account journeys, lookback windows, milestones.

- ``_journeys``: the definitions and :func:`build_journeys`, which runs the steps below and
  reconciles every input touch (``Journeys``, ``JOURNEY_COLUMNS``, ``CONTACT_SCOPES``);
- ``_contacts``: contacts' buying-committee roles and accounts;
- ``_order``: entity keys as checked 64-bit hashes and the (entity, time) order;
- ``_conversions``: conversions, milestone times and the role flags of journey touches;
- ``_windows``: which touches join which conversion (lookback, contact scope) and the
  non-converting paths.
"""

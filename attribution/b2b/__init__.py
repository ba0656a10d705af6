"""B2B: accounts and buying committees, unit economics, the funnel, the plan check."""

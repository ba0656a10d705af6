"""The seeded synthetic B2B world (sample data and benchmark data of any size)."""

"""Routines: goals on a schedule, fired exactly once per due time by whichever process sweeps."""

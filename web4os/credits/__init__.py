"""The credit ledger: reservations, settlements, grants; never overdrawn."""

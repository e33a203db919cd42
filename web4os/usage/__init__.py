"""What an account spent: the usage page, the ledger CSV, and setting credit caps."""

"""New accounts: self-serve signup and the concierge accounts an admin provisions."""

"""An account's data is its own: the archive, deletion after a grace period, retention."""

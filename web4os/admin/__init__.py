"""The platform admin console: accounts across tenants, concierge provisioning, credits."""

"""What every domain stands on: the database and its sessions, settings, errors, the
supervisor of background loops, observability, and how the service is served."""

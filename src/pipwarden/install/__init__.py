"""Safe installs: pip's configuration, target interpreters, hash-locking, lock verification, install."""

"""pipwarden: vet Python packages before they reach a machine, without running them."""

__version__ = "0.1.0"

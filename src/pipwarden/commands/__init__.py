"""One module per subcommand; see pipwarden.cli for the contract."""

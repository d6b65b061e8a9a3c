"""The jobs behind the CLI's subcommands: batch loops with reporting, one module per subcommand."""

"""One module per `moetui` subcommand, imported only when that command runs."""

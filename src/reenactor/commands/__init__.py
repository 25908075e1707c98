"""One module per ``reenactor`` sub-command: ``add_parser(subparsers)`` sets ``func`` on its parser."""

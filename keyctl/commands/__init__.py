"""The commands, one module per area; keyctl/cli.py imports them all."""

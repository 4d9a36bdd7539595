"""The command line: `serve`, `init`, `check-config`, and the client commands that talk to a running daemon."""

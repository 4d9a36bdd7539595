"""The running process: the daemon's lifecycle, systemd, logging, metrics."""

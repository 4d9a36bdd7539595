"""Where events and their delivery state are kept: the interface and its backends."""

"""Getting events to hooks: matching, signing, attempts, retries and replay."""

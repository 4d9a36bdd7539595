"""Received media kept on disk and served by signed links; media fetched by URL for sends."""

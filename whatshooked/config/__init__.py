"""The config file: its model (frozen dataclasses), parsing, values, the live settings, the write-back."""

"""Model architectures; importing this package registers the built-in models."""

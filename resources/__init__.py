"""Package data: models, icons, sample photos (read with importlib.resources)."""

"""The Latentzip desktop window (PySide6)."""

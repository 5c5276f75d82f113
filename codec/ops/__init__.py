"""The engine's operations: compress, add, extract and test, preview, plan, browse and details."""

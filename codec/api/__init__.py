"""The engine's contracts: options, reports, progress events, outcomes and errors (no Qt, no I/O)."""

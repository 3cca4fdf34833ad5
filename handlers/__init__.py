"""Framework-free conversations: flows, their engine and keyboards."""

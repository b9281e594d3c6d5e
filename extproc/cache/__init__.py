"""The response cache: exact (every replica on Redis, or one process's LRU) and semantic (by meaning, learned within an error bound)."""

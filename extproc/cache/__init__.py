"""The response cache: exact (every replica on Redis, or one process's LRU), semantic later."""

"""Policy stages, in the order a request meets them (`pipeline.py`), and the contract they share (`base.py`).

Each stage sees the request context and either lets the request go on (after
recording its decision on the context) or answers it with a `Reply`; the
answer comes back through the stages that saw the request, in reverse order.
Stages take and return plain Python values; they never touch protobuf.
"""

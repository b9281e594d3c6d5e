"""llm-gateway: the Python ext_proc service that sits in Envoy's filter chain."""

__version__ = "0.1.0"

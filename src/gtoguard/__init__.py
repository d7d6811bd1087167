"""gtoguard: policy enforcement for GTO model-registry tags."""

__version__ = "0.1.0"

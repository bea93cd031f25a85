"""ebank: a secure electronic-banking platform."""

__version__ = "0.1.0"

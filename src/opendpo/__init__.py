"""OpenDPO: the privacy notice held as code, every promise in it enforced."""

__version__ = "0.1.0"

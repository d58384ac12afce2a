"""certwatch: an independent, serverless certificate-expiry checker."""

__version__ = "0.1.0"

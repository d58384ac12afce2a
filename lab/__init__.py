"""The lab: certificates minted on the spot and loopback servers, for tests, the bench and the demo.

Development-only: Chalice packages ``app.py`` and ``chalicelib/``, never this.
"""

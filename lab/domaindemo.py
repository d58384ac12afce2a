"""The local stack's watched-domain demo: Cert Spotter's API and an RDAP server stood in, with a story in them.

Under ``shop.test`` (DEMO_DOMAIN):

* ``www.shop.test`` is served by a loopback TLS endpoint with certificate A, while CT holds B,
  issued 3 days ago: register the endpoint and it is RENEWED_NOT_DEPLOYED;
* ``login.shop.test`` has a certificate from "Rogue Demo CA", an issuer the demo domain does not
  allow: UNEXPECTED_ISSUANCE;
* ``legacy.shop.test`` is in CT and checked by no target: "seen in CT, not watched";
* the registration of ``shop.test`` ends in 20 days: DOMAIN_EXPIRING, one ``domain.expiring``.

Nothing is watched or registered at start (a fresh stack has no targets); the banner says how.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lab.certs import Issued, make_ca, make_cert
from lab.ctlog import CertSpotterStandIn, RdapStandIn
from lab.servers import TlsServer

DEMO_DOMAIN = "shop.test"
ISSUER = "certwatch Local Demo CT Intermediate"


@dataclass
class DomainDemo:
    ct: CertSpotterStandIn
    rdap: RdapStandIn
    endpoint: TlsServer

    @property
    def servers(self) -> list[CertSpotterStandIn | RdapStandIn | TlsServer]:
        return [self.ct, self.rdap, self.endpoint]

    @property
    def environment(self) -> dict[str, str]:
        """Where the functions read CT and RDAP from: the stand-ins."""
        return {
            "CERTWATCH_CT_URL": self.ct.url.rstrip("/"),
            "CERTWATCH_RDAP_SERVERS": json.dumps({"test": self.rdap.url}),
        }

    def watch_body(self) -> dict[str, object]:
        return {"domain": DEMO_DOMAIN, "allowed_issuers": [ISSUER]}

    def target_body(self) -> dict[str, object]:
        return {"target": f"tls://127.0.0.1:{self.endpoint.port}", "sni": f"www.{DEMO_DOMAIN}"}


def start_domain_demo(root: Issued, now: datetime | None = None) -> DomainDemo:
    """The stand-ins with the demo's certificates, and the endpoint serving the old one; ``root`` is trusted here."""
    now = now or datetime.now(UTC)
    day = timedelta(days=1)
    issuer = make_ca(ISSUER, issuer=root)
    served = make_cert(f"www.{DEMO_DOMAIN}", issuer=issuer, not_before=now - 80 * day, not_after=now + 10 * day)
    renewed = make_cert(f"www.{DEMO_DOMAIN}", issuer=issuer, not_before=now - 3 * day, not_after=now + 87 * day)
    legacy = make_cert(f"legacy.{DEMO_DOMAIN}", issuer=issuer, not_before=now - 30 * day, not_after=now + 60 * day)
    rogue_ca = make_ca("Rogue Demo CA")
    rogue = make_cert(f"login.{DEMO_DOMAIN}", issuer=rogue_ca, not_before=now - day, not_after=now + 89 * day)
    ct = CertSpotterStandIn()
    for issued, by in ((served, issuer), (legacy, issuer), (renewed, issuer), (rogue, rogue_ca)):
        ct.add(issued, issuer=by)
    rdap = RdapStandIn({DEMO_DOMAIN: now + 20 * day + timedelta(hours=12)})
    endpoint = TlsServer([served, issuer])
    ct.start()
    rdap.start()
    endpoint.start()
    return DomainDemo(ct, rdap, endpoint)

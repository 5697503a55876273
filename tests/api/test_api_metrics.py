"""``GET /metrics``: Prometheus text read from the store, for a viewer token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api_support import Api
from prometheus_client.parser import text_string_to_metric_families

from orchestrator.service import observed


def samples(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = api.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_metrics_need_a_token(api: Api) -> None:
    assert api.get("/metrics", role=None).status_code == 401


def test_metrics_from_the_store(api: Api) -> None:
    now = datetime.now(UTC)
    observed.record_session(api.db, "fra", "transit-a", "up", "", now)
    diverted = api.post("/api/v1/diversions", {"customer": "acme", "reason": "flood"}).json()
    requested = datetime.fromisoformat(diverted["diversion"]["requested_at"])
    with api.db.write(bump=False) as session:  # an acknowledgement, as the agent records it
        from orchestrator.store.models import AnnouncedRow, DiversionAckRow

        session.add(AnnouncedRow(site="fra", peer="transit-a", prefix="203.0.113.0/24",
                                 attributes="", acked_at=now))  # fmt: skip
        session.add(
            DiversionAckRow(
                diversion_id=diverted["diversion"]["id"],
                site="fra",
                first_acked_at=requested + timedelta(seconds=0.3),
            )
        )
    observed.record_site_sync(api.db, "fra", api.db.generation() - 1, now)
    got = samples(api)
    # pharmanet (always-on) is protected through fra; acme's IPv6 prefix has no session up
    assert got[("scrubctl_customers", (("state", "protected"),))] == 1
    assert got[("scrubctl_customers", (("state", "unprotected"),))] == 1
    assert got[("scrubctl_diversions_active", ())] == 1
    # acme's and pharmanet's /24, planned; acme's alone acknowledged
    assert got[("scrubctl_routes_planned", (("peer", "transit-a"), ("site", "fra")))] == 2
    assert got[("scrubctl_routes_acknowledged", (("peer", "transit-a"), ("site", "fra")))] == 1
    assert got[("scrubctl_bgp_session_up", (("peer", "transit-a"), ("site", "fra"),
                                            ("state", "up")))] == 1  # fmt: skip
    assert got[("scrubctl_return_path_up", (("customer", "acme"), ("site", "fra")))] == -1
    assert got[("scrubctl_time_to_mitigate_seconds_count", ())] == 1
    assert got[("scrubctl_time_to_mitigate_seconds_bucket", (("le", "0.25"),))] == 0
    assert got[("scrubctl_time_to_mitigate_seconds_bucket", (("le", "0.5"),))] == 1
    assert got[("scrubctl_agent_sync_lag", (("site", "fra"),))] == 1


def test_agent_sync_figures(api: Api) -> None:
    now = datetime.now(UTC)
    observed.record_sync(api.db, "fra", observed.SyncRun(0.25, 0, api.db.generation()), now)
    observed.record_sync(api.db, "fra", observed.SyncRun(0.125, 3, None), now)
    observed.record_sync(api.db, "ams", observed.SyncRun(0.5, 0, None), now)
    got = samples(api)
    assert got[("scrubctl_agent_sync_duration_seconds", (("site", "fra"),))] == 0.125
    assert got[("scrubctl_agent_sync_duration_seconds", (("site", "ams"),))] == 0.5
    assert got[("scrubctl_agent_sync_errors", (("site", "fra"),))] == 3
    assert got[("scrubctl_agent_syncs_total", (("site", "fra"),))] == 2
    assert got[("scrubctl_agent_sync_failures_total", (("site", "fra"),))] == 1
    assert got[("scrubctl_agent_sync_failures_total", (("site", "ams"),))] == 0

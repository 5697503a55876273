"""The dashboard: pages rendered on the server from ``templates/web/`` over the
same service layer as the JSON API, a login with the API's tokens, live updates
by Server-Sent Events, and operator changes previewed before they are made."""

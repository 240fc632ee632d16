"""The console's pages, one module per area; ROUTES gathers their route tables (paths after `/console`)."""

from __future__ import annotations

from wabalink.console.pages import accounts, catalog, events, inbox, people, signup

ROUTES = people.ROUTES + accounts.ROUTES + signup.ROUTES + inbox.ROUTES + events.ROUTES + catalog.ROUTES

"""Cyber analytical reports (issue 25): weekly, monthly and on-demand reports of the network
and of each country, as PDF and CSV with a manifest signed by the service key.

``periods`` (which days a report covers), ``content`` (the figures, under the scope's
visibility), ``tables`` (CSV), ``pdf`` (the PDF and its charts), ``signing`` (the manifest,
signed and verified offline), ``commands`` (generate, list, download: one transaction each,
audited), ``worker`` (the periodic ones, once each), ``cli`` (`relay247 report`)."""

"""Shared cybercrime data (issue 24): collections, partner agreements, intake, triage, feedback
sightings and the retention of shared data. Routes in app/api stay thin; TAXII's protocol is
app/taxii's."""

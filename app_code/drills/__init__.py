"""Drills: a steady workload, one injected event (failover, replica lag, throttling), and a report of what was
acknowledged, present, lost and duplicated. One module per drill; `ledger` holds what they share, `inject` how
the event happens (the twin's control or AWS's APIs), `command` what `python -m app_code drill` runs."""

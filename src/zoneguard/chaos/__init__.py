"""``zoneguard chaos``: seeded lifecycles against the real processes (sim, worker, app),
with the worker SIGKILLed and restarted at random points, checked against the exchange's
own state and the callbacks received.

The harness is a user of the system: it talks to every process over its wire API only
(the simulator's REST and control API, the worker's and the app's HTTP APIs) and imports
nothing of theirs (``make lint`` checks it). Modules: :mod:`.geometry` (price levels of a
signal), :mod:`.plan` (what a seed chooses), :mod:`.scenarios` (the scripts),
:mod:`.invariants` (the checks, pure), :mod:`.processes`, :mod:`.receiver`, :mod:`.clients`
and :mod:`.stack` (the processes and how to reach them), :mod:`.lifecycle` (one run of one
script), :mod:`.runner` (many, side by side, and the tally), :mod:`.cli`.
"""

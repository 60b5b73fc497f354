"""``evict`` and ``resign``: operator actions on a running election.

Examples::

    fdb-election evict                   # remove candidates past the candidate timeout
    fdb-election evict --batch 500       # ... at most 500 per transaction
    fdb-election evict --unreadable      # ... and candidate records that do not decode
    fdb-election resign --id web-1       # ask the leader web-1 to step down, wait for it

``resign`` does not clear the leader key itself: that would let another candidate claim while
web-1 still believes it leads (its local deadline has not passed). It files a step-down request
that the leader's own elector honours by stopping its work first and then handing leadership
over to the best live candidate (or resigning when there is none), which is what makes the
handover safe; the command waits (``--timeout``) until the leadership has moved.
A leader that does not run an elector of this project (e.g. a Rust process) does not see the
request; its lease then has to run out.
"""

from __future__ import annotations

import time
from typing import Any

import click

from fdb_election.cli.context import CliContext, common_options, database_errors, pass_cli, transact
from fdb_election.cli.exit_codes import CliFailure, NotFound
from fdb_election.cli.naming import leader_key
from fdb_election.cli.output import Output, format_seconds
from fdb_election.cli.watching import arm_watch, wait_for_future

__all__ = ["evict", "resign"]


#: Most dead candidates one ``evict`` transaction removes: FoundationDB refuses a transaction
#: over 10 MB (2101), which clearing ~100,000 candidates at once would be.
DEFAULT_EVICTION_BATCH = 1_000


@click.command()
@common_options
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=DEFAULT_EVICTION_BATCH,
    show_default=True,
    help="Most candidates removed per transaction.",
)
@click.option(
    "--unreadable",
    is_flag=True,
    help="First remove candidate records that do not decode (see `candidates`).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_cli
def evict(cli: CliContext, batch: int, unreadable: bool, as_json: bool) -> None:
    """Remove candidates whose last heartbeat is older than the candidate timeout."""
    from fdb_election.election import InvalidState, now

    election = cli.election()
    evicted = removed_unreadable = 0
    with database_errors(cli):
        if unreadable:
            removed_unreadable = transact(
                cli.existing_database(), lambda tr: _remove_unreadable(tr, election)
            )
        try:
            while True:  # bounded transactions until one finds fewer than a full batch
                removed = transact(
                    cli.existing_database(),
                    lambda tr: election.evict_dead_candidates(tr, now(), limit=batch),
                )
                evicted += removed
                if removed < batch:
                    break
        except InvalidState as exc:
            raise CliFailure(
                f"election {cli.election_name!r}: {exc}; add --unreadable to remove candidate "
                "records that do not decode"
            ) from exc
    out = Output.current(json_mode=as_json)
    if as_json:
        document: dict[str, Any] = {"election": cli.election_name, "evicted": evicted}
        if unreadable:
            document["unreadable_removed"] = removed_unreadable
        out.json(document)
        return
    if unreadable:
        noun = "record" if removed_unreadable == 1 else "records"
        out.line(f"Removed {removed_unreadable} candidate {noun} that did not decode.")
    noun = "candidate" if evicted == 1 else "candidates"
    out.line(f"Evicted {evicted} dead {noun} from election {cli.election_name!r}.")


def _remove_unreadable(tr: Any, election: Any) -> int:
    """Clear every candidate record that does not decode; how many there were."""
    _, unreadable = election.read_candidates(tr)
    for key in unreadable:
        tr.clear(key)
    return len(unreadable)


def _current_leader(cli: CliContext, election: Any) -> tuple[Any, Any]:
    """(the leader record or None, a watch on the leader key), read in one transaction.

    A record whose lease has expired by this machine's clock counts as no leader.
    """
    from fdb_election.election import now

    key = leader_key(cli.election_name)

    def body(tr: Any) -> tuple[Any, Any]:
        election.read_config(tr)  # NotInitialized → exit 3
        state = election.get_leader_raw(tr)
        if state is not None and not state.is_lease_valid(now()):
            state = None
        return state, arm_watch(tr, key)

    with database_errors(cli):
        return transact(cli.existing_database(), body)


def _leader_id(state: Any) -> str | None:
    return None if state is None else str(state.leader_id)


def _wait_for_leader(
    cli: CliContext, election: Any, process_id: str, deadline: float, follow_s: float
) -> tuple[Any, bool]:
    """Watch the leader key until ``process_id`` no longer leads, or ``deadline`` (monotonic).

    Returns (the leader record last read, whether ``process_id`` has stepped down). Once it has,
    waits on for the next leader, at most ``follow_s`` more and never past ``deadline``: a
    hand-over names it at once, but a resignation empties the leader key and another candidate
    claims it a moment later.
    """
    stepped_down = False
    while True:
        state, watch = _current_leader(cli, election)
        if not stepped_down and _leader_id(state) != process_id:
            stepped_down = True
            deadline = min(deadline, time.monotonic() + follow_s)
        remaining = deadline - time.monotonic()
        if (stepped_down and state is not None) or remaining <= 0:
            watch.cancel()
            return state, stepped_down
        wait_for_future(watch, remaining)


@click.command()
@common_options
@click.option("--id", "process_id", required=True, metavar="ID", help="The leader to step down.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.0),
    default=None,
    help="Seconds to wait for the step-down (default: two leases). 0: do not wait.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_cli
def resign(cli: CliContext, process_id: str, timeout: float | None, as_json: bool) -> None:
    """Make leader ID step down safely (exit 3 if ID is not the leader)."""
    from fdb_election.runtime import request_step_down

    election = cli.election()
    state, watch = _current_leader(cli, election)
    watch.cancel()
    leader = _leader_id(state)
    if leader != process_id:
        current = f"the leader is {leader!r}" if leader else "there is no leader"
        raise NotFound(
            f"{process_id!r} is not the leader of election {cli.election_name!r} ({current})"
        )
    with database_errors(cli):
        config = transact(cli.existing_database(), election.read_config)
        request_step_down(cli.existing_database(), election, process_id)
    lease_s = config.lease_duration.total_seconds()
    wait_s = 2 * lease_s if timeout is None else timeout
    started = time.monotonic()
    stepped_down = False
    if wait_s:
        # A hand-over names the next leader at once. After a resignation the others claim the
        # empty leader key at once, or after two heartbeats when they let a higher-priority
        # candidate go first: wait that long for the next leader, no longer.
        follow_s = 2.5 * config.heartbeat_interval.total_seconds()
        state, stepped_down = _wait_for_leader(
            cli, election, process_id, started + wait_s, follow_s
        )
    waited = time.monotonic() - started
    successor = _leader_id(state) if stepped_down else None
    out = Output.current(json_mode=as_json)
    if as_json:
        out.json(
            {
                "election": cli.election_name,
                "process_id": process_id,
                "requested": True,
                "stepped_down": stepped_down if wait_s else None,
                "leader": successor,
                "ballot": state.ballot if successor is not None else None,
            }
        )
    elif wait_s == 0:
        out.line(f"Asked {process_id!r} to step down (not waiting).")
    elif stepped_down and successor is not None:
        out.line(f"{process_id!r} stepped down; {successor!r} leads now (ballot {state.ballot}).")
    elif stepped_down:
        out.line(
            f"{process_id!r} stepped down; no other candidate has taken over yet (waited "
            f"{format_seconds(waited)}; `fdb-election status` shows who leads)."
        )
    if wait_s and not stepped_down:
        raise CliFailure(
            f"{process_id!r} was asked to step down but still leads after {format_seconds(wait_s)} "
            "(is its elector running and of this project?)"
        )

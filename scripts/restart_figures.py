#!/usr/bin/python3
"""restart_figures.py: how long `framering run` takes to bring back a stage killed with SIGKILL,
per stage kind, measured from outside with the built binary and the standard library only.

It runs the SIGKILL campaign's pipeline (tests/fault/campaign_pipeline.toml) in a temporary
folder under an instance of its own: acquire (testpattern 64x48 Mono16, 200 Hz, 16 slots) ->
process (identity, every consumer of raw) -> display (headless snapshots, newest consumer of
processed), and record (every consumer of raw, dead timeout 5 s). Then, round after round, it SIGKILLs each stage's
process (the pid its ring shows) and measures, from the kill:
  started   the new process exists (its start time in /proc/<pid>/stat: 10 ms ticks): the
            supervisor noticed the death, waited its restart delay and forked;
  visible   `framering status --json` shows a new live pid in the stage's place on its ring;
  counting  that process's counter moves (published for acquire, frames_read for the others).
Two phases, --kills kills per stage kind each. First restarts: the stages in turn, each killed
again only after it has run healthy_after_ms (2 s here), so that its restart count has started
over and its delay is the default backoff_ms, 200 ms. In a row: each stage killed again as soon
as it counts, so that its delay doubles up to its cap (5 s; an every consumer's, a quarter of its
dead timeout).

`framering status` is polled with W processes of `status --json --watch --interval 0.1`, their
refreshes staggered, so the resolution is about 0.1 s / W (20 ms by default; the gaps actually
reached between refreshes are printed). A one-shot
`framering status` costs 0.1-0.5 s of start-up on a busy 2-core machine (the executable loads
~260 shared libraries), so calling it in a loop would measure its own start-up, not the stages.

Killed in a row, the recorder is away longer than acquire's --claim-timeout-ms (1 s): acquire
then drops source frames (counted, the run's exit code 3) though the ring evicts no one; the
losses the run's summary counts are printed with its exit code.

Goals it checks: an every consumer (process, record) is always back (visible) inside its dead
timeout and the producer evicted no one; after a first restart every stage counts again within
1 s of the kill.

Usage: /usr/bin/python3 scripts/restart_figures.py [--framering build/release/app/framering]
                                                  [--kills 10] [--watchers 5] [--no-in-a-row] [--json]
Exit code 0 when the goals hold, 1 when one does not, 2 when the measurement itself failed.
"""
import argparse
import json
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

STAGES = ("acquire", "process", "display", "record")
PHASES = ("first", "in_a_row")
DEAD_TIMEOUT_S = {"process": 2.0, "record": 5.0}  # process: the ring's default; record: the pipeline's
HEALTHY_AFTER_S = 2.0
GOAL_COUNTING_S = 1.0
WAIT_S = 30.0

# The campaign's pipeline (tests/fault/test_run_campaign.cpp), a template.
PIPELINE = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "fault",
                        "campaign_pipeline.toml")
RESTART = "max_restarts = 1000\nbackoff_ms = 200\nbackoff_max_ms = 5000\nhealthy_after_ms = {healthy_ms}"


class MeasurementError(Exception):
    pass


def place(snapshot, stage):
    """(pid, counter) of the live process holding `stage`'s place in a status snapshot, or None."""
    rings = {r.get("ring"): r for r in snapshot if isinstance(r, dict)}
    if stage == "acquire":
        producer = rings.get("raw", {}).get("producer")
        if not producer or not producer.get("alive"):
            return None
        return producer["pid"], producer["published"]
    ring = rings.get("processed" if stage == "display" else "raw")
    for c in (ring or {}).get("consumers", []):
        if c.get("name") == stage and c.get("alive") and c.get("state") == "active":
            return c["pid"], c["frames_read"]
    return None


def evictions(snapshot):
    return sum(r.get("producer", {}).get("evictions", 0) for r in snapshot if isinstance(r, dict))


def start_ticks(pid):
    """Field 22 of /proc/<pid>/stat (clock ticks since boot), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[19])


class Watchers:
    """W `framering status --json --watch` processes, staggered; their refreshes in one queue."""

    def __init__(self, framering, instance, count, interval_s):
        self.snapshots = queue.Queue()
        self.processes = []
        self.arrivals = []  # every refresh's arrival time: the resolution actually reached
        self.lock = threading.Lock()
        for _ in range(count):
            first = threading.Event()
            p = subprocess.Popen([framering, "status", "--instance", instance, "--json", "--watch", "--interval",
                                  str(interval_s)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self.processes.append(p)
            threading.Thread(target=self._read, args=(p, first), daemon=True).start()
            # The next watcher starts a fraction of a period after this one's first refresh, so
            # that their refreshes interleave (each keeps its phase: it sleeps a fixed period).
            if not first.wait(WAIT_S):
                raise MeasurementError("`framering status --watch` printed nothing")
            time.sleep(interval_s / count)  # staggering the refreshes, not synchronisation

    def _read(self, process, first):
        for line in process.stdout:
            t = time.monotonic()
            first.set()
            with self.lock:
                self.arrivals.append(t)
            try:
                self.snapshots.put((t, json.loads(line)))
            except ValueError:
                continue

    def resolution(self, since):
        """p50 and max of the gaps between consecutive refreshes after `since`, in seconds."""
        with self.lock:
            times = sorted(t for t in self.arrivals if t >= since)
        gaps = [b - a for a, b in zip(times, times[1:])]
        return (statistics.median(gaps), max(gaps)) if gaps else (None, None)

    def wait_for(self, predicate, what, timeout_s=WAIT_S):
        """The arrival time and snapshot of the first refresh for which `predicate` holds."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise MeasurementError(f"not within {timeout_s:.0f} s: {what}")
            try:
                t, snapshot = self.snapshots.get(timeout=left)
            except queue.Empty:
                continue
            if predicate(snapshot):
                return t, snapshot

    def drain(self):
        """Forgets refreshes taken before now (they describe the past)."""
        while True:
            try:
                self.snapshots.get_nowait()
            except queue.Empty:
                return

    def stop(self):
        for p in self.processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def measure(args):
    work = tempfile.mkdtemp(prefix="framering-restart-")
    instance = f"restartfig{os.getpid()}"
    config = os.path.join(work, "pipeline.toml")
    with open(PIPELINE, encoding="utf-8") as f:
        template = f.read()
    with open(config, "w", encoding="utf-8") as f:
        f.write(template.format(instance=instance, restart=RESTART.format(healthy_ms=int(HEALTHY_AFTER_S * 1000)),
                                snapshots=os.path.join(work, "snapshots"), recordings=os.path.join(work, "recordings"),
                                record_dead_timeout_s=DEAD_TIMEOUT_S["record"]))
    log_path = os.path.join(work, "run.log")
    log = open(log_path, "w", encoding="utf-8")
    run = subprocess.Popen([args.framering, "run", "--config", config, "--summary-json",
                            os.path.join(work, "summary.json")], stdout=log, stderr=log)
    watchers = Watchers(args.framering, instance, args.watchers, args.interval_s)
    samples = {phase: {stage: [] for stage in STAGES} for phase in PHASES}
    evicted = 0
    run_exit = None
    resolution = (None, None)

    def all_running(snapshot):
        return all(place(snapshot, s) is not None and place(snapshot, s)[1] > 0 for s in STAGES)

    def kill_once(phase, stage, number):
        """SIGKILLs the process holding `stage`'s place; its sample once the next one counts."""
        nonlocal evicted
        watchers.drain()
        _, snapshot = watchers.wait_for(all_running, "every stage running before the kill")
        victim, _ = place(snapshot, stage)
        t_kill = time.monotonic()
        boot_kill = time.clock_gettime(time.CLOCK_BOOTTIME)
        os.kill(victim, signal.SIGKILL)
        t_visible, snapshot = watchers.wait_for(lambda s: place(s, stage) is not None and place(s, stage)[0] != victim,
                                                f"{stage} back after the kill of pid {victim}")
        pid, base = place(snapshot, stage)
        ticks = start_ticks(pid)
        t_counting, snapshot = watchers.wait_for(
            lambda s: place(s, stage) is not None and place(s, stage)[0] == pid and place(s, stage)[1] > base,
            f"{stage} (pid {pid}) counting")
        evicted = max(evicted, evictions(snapshot))
        started = None if ticks is None else max(0.0, ticks / os.sysconf("SC_CLK_TCK") - boot_kill)
        samples[phase][stage].append({"kill": number, "killed_pid": victim, "new_pid": pid, "started_s": started,
                                      "visible_s": t_visible - t_kill, "counting_s": t_counting - t_kill})
        if not args.json:
            print(f"  {phase:9s} {number:2d} {stage:8s} pid {victim} -> {pid}: started "
                  f"{'?' if started is None else f'{started:.2f} s'}, visible {t_visible - t_kill:.3f} s, "
                  f"counting {t_counting - t_kill:.3f} s", file=sys.stderr)
        return t_kill, t_counting

    try:
        t_up, _ = watchers.wait_for(all_running, "every stage running and counting")
        t_first_kill = None
        # First restarts: the stages in turn, each killed again only after it has run
        # healthy_after_ms, so that its restart count has started over.
        back_at = {stage: t_up for stage in STAGES}
        for number in range(1, args.kills + 1):
            for stage in STAGES:
                pause = back_at[stage] + HEALTHY_AFTER_S + 0.3 - time.monotonic()
                if pause > 0:
                    time.sleep(pause)  # the restart policy's healthy period, not synchronisation
                t_kill, back_at[stage] = kill_once("first", stage, number)
                t_first_kill = t_first_kill or t_kill
        # In a row: each stage killed again as soon as it counts; its restart delay doubles up to
        # its cap (an every consumer's: a quarter of its dead timeout).
        if args.in_a_row:
            for stage in STAGES:
                time.sleep(max(0.0, back_at[stage] + HEALTHY_AFTER_S + 0.3 - time.monotonic()))  # healthy again
                for number in range(1, args.kills + 1):
                    _, back_at[stage] = kill_once("in_a_row", stage, number)
        resolution = watchers.resolution(t_first_kill)
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGTERM)
            try:
                run_exit = run.wait(timeout=120)
            except subprocess.TimeoutExpired:
                run.kill()
                run_exit = run.wait()
        watchers.stop()
        log.close()
        try:
            with open(os.path.join(work, "summary.json"), encoding="utf-8") as f:
                summary = json.load(f)
        except (OSError, ValueError):
            summary = None
        if args.keep:
            print(f"kept {work} (pipeline.toml, run.log, recordings)", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return samples, evicted, run_exit, summary, resolution


def figures(samples):
    out = {}
    for stage, rows in samples.items():
        entry = {"kills": len(rows), "samples": rows}
        for key in ("started_s", "visible_s", "counting_s"):
            values = [r[key] for r in rows if r[key] is not None]
            entry[key] = {"p50": statistics.median(values) if values else None, "max": max(values) if values else None}
        if stage in DEAD_TIMEOUT_S:
            entry["dead_timeout_s"] = DEAD_TIMEOUT_S[stage]
        out[stage] = entry
    return out


def losses(summary):
    """What the run's summary counts as lost (why its exit code is 3): per stage dropped or lost
    frames, and frames listed as unrecorded."""
    if not summary:
        return {"summary": "none"}
    out = {}
    for stage in summary.get("stages", []):
        for key in ("dropped", "lost"):
            if stage.get(key):
                out[f"{stage['name']} {key}"] = stage[key]
    for u in summary.get("unrecorded", []):
        out[f"unrecorded {u['ring']}/{u['consumer']}"] = u["count"]
    return out


def print_table(title, result):
    print(title)
    print(f"  {'stage':8s} {'started p50/max':>17s} {'visible p50/max':>17s} {'counting p50/max':>18s}  dead timeout")
    for stage in STAGES:
        r = result[stage]

        def pair(key):
            v = r[key]
            return "-" if v["p50"] is None else f"{v['p50']:.2f}/{v['max']:.2f} s"
        dead = f"{r['dead_timeout_s']:.0f} s" if "dead_timeout_s" in r else "-"
        print(f"  {stage:8s} {pair('started_s'):>17s} {pair('visible_s'):>17s} {pair('counting_s'):>18s}  {dead}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--framering", default="build/release/app/framering", help="the framering executable")
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs per stage kind (default 10)")
    parser.add_argument("--watchers", type=int, default=5, help="`status --watch` processes polling (default 5)")
    parser.add_argument("--interval-s", type=float, default=0.1, help="each watcher's refresh period (min 0.1)")
    parser.add_argument("--no-in-a-row", dest="in_a_row", action="store_false",
                        help="measure first restarts only (not also kills in a row)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (log, recordings)")
    args = parser.parse_args()
    if not os.access(args.framering, os.X_OK):
        sys.exit(f"restart_figures: {args.framering} is not an executable (build it, or give --framering)")
    try:
        samples, evicted, run_exit, summary, resolution = measure(args)
    except MeasurementError as e:
        print(f"restart_figures: {e}", file=sys.stderr)
        return 2
    result = {phase: figures(samples[phase]) for phase in PHASES}

    def worst(phase, stage, key):
        return result[phase][stage][key]["max"]
    every_back = [worst(phase, s, "visible_s") for phase in PHASES for s in DEAD_TIMEOUT_S]
    goals = {
        "every_consumer_back_inside_dead_timeout": evicted == 0 and all(
            v is None or v < DEAD_TIMEOUT_S[s] for phase in PHASES for s in DEAD_TIMEOUT_S
            for v in [worst(phase, s, "visible_s")]) and any(v is not None for v in every_back),
        "first_restart_counting_within_1_s": all(
            worst("first", s, "counting_s") is not None and worst("first", s, "counting_s") < GOAL_COUNTING_S
            for s in STAGES),
    }
    report = {"framering": os.path.abspath(args.framering), "kills_per_stage": args.kills,
              "poll_gap_s": {"p50": resolution[0], "max": resolution[1]},
              "policy": {"backoff_ms": 200, "backoff_max_ms": 5000, "healthy_after_ms": int(HEALTHY_AFTER_S * 1000)},
              "phases": result, "evictions": evicted, "run_exit_code": run_exit,
              "run_losses": losses(summary), "goals": goals}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"restart after SIGKILL, {args.kills} kills per stage and phase; status refreshes "
              f"{resolution[0] * 1000:.0f} ms apart (p50), {resolution[1] * 1000:.0f} ms at most; "
              f"times from the kill")
        print_table("first restarts (each after the stage ran healthy_after_ms: restart delay 200 ms)", result["first"])
        if args.in_a_row:
            print_table("in a row (killed again as soon as it counts: delay doubles, capped at 5 s, for an every "
                        "consumer at a quarter of its dead timeout)", result["in_a_row"])
        print(f"  evictions: {evicted}; run exit code {run_exit}"
              f"{': ' + ', '.join(f'{k} {v}' for k, v in report['run_losses'].items()) if report['run_losses'] else ''}")
        for goal, ok in goals.items():
            print(f"  goal {goal.replace('_', ' ')}: {'yes' if ok else 'NO'}")
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Prints, as one JSON object, the DMX data a running olad holds for each universe given:
{"1": [v1, v2, ...], ...}. Exit 1 (message on stderr) when olad does not answer, a fetch fails,
or --timeout-s passes. Used by test_led_ola (run it with /usr/bin/python3: Debian's ola-python)."""
import argparse
import json
import sys

from ola.ClientWrapper import ClientWrapper


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("universes", type=int, nargs="+")
    parser.add_argument("--timeout-s", type=float, default=5.0)
    args = parser.parse_args()
    try:
        wrapper = ClientWrapper()
    except Exception as e:  # olad not listening (yet)
        print(f"cannot connect to olad: {e}", file=sys.stderr)
        return 1
    client = wrapper.Client()
    result = {}
    failures = []
    pending = list(args.universes)

    def fetch_next():
        if not pending:
            wrapper.Stop()
            return
        universe = pending.pop(0)

        def on_dmx(status, _universe, data, u=universe):
            if status.Succeeded():
                result[str(u)] = list(data)
            else:
                failures.append(f"universe {u}: {status.message}")
            fetch_next()

        client.FetchDmx(universe, on_dmx)

    fetch_next()
    wrapper.AddEvent(int(args.timeout_s * 1000), wrapper.Stop)
    wrapper.Run()
    if failures or len(result) != len(args.universes):
        print(f"FetchDmx failed or timed out: {failures}, got {sorted(result)}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

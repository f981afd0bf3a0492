#!/usr/bin/env python3
"""Reads a Prometheus text exposition with Debian's python3-prometheus-client
parser, the one a Prometheus client library would use, and prints each sample
as one JSON object per line: {"family","type","name","labels","value"}.
Exits 1, with the parser's message, when any line does not parse."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main(path):
    with open(path, encoding="utf-8") as exposition:
        text = exposition.read()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as error:  # the parser raises ValueError and others
        print(f"parse_metrics: {error}", file=sys.stderr)
        return 1
    for family in families:
        for sample in family.samples:
            print(json.dumps({"family": family.name, "type": family.type, "name": sample.name,
                              "labels": sample.labels, "value": sample.value}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
